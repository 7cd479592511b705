"""DICOMweb (PS3.18): the second transport beside DIMSE, behind the same node and result types.

`session` opens the HTTP session of a node (dicomweb-client's, on requests: authentication,
CA bundle, time-outs, retries) and turns every way a request fails into one PeerError line
naming the node. `qido` is `echo` (a QIDO-RS probe) and `find` (QIDO-RS, returning
`viewer.net.query.FindReport`); `wado` retrieves by WADO-RS into the archive through
`archive.importer`, part by part as the multipart answer arrives (`multipart`); `stow` sends
stored files by STOW-RS, streamed from disk. Server-supplied URLs (Retrieve URL) are never
followed: every request is built from the node's configured service root.
"""
