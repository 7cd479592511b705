"""The rows of `dicom-viewer bench presentation` that need the reading window, as one JSON
document on stdout: a GSPS applied in a 512x512 viewport (`benchmark_presentation`) and a study
hung to the first image of every viewport (`benchmark_hanging`). The command line runs this as
a child process, since it never imports Qt."""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m viewer.gui.benchmark_reading")
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    from viewer.gui.benchmark_hanging import measure_hanging_gui
    from viewer.gui.benchmark_presentation import measure_viewport_presentation

    app = QApplication.instance() or QApplication(sys.argv[:1])
    passes = max(args.passes, 1)
    result = {"viewport_presentation": measure_viewport_presentation(passes),
              "hanging": measure_hanging_gui(passes)}
    del app
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
