"""Volume reading: a series as one voxel array with its patient geometry; planes, slabs, fusion
and 3D built on it. Qt-free; VTK is imported only by `render3d`."""
