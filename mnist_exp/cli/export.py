"""`mnist-exp-export RUN_DIR [--formats ...] [--force]` (`python -m mnist_exp.cli.export`, the
'export' extra): export a finished run to SavedModel
(TF Serving layout), TFLite float32 / dynamic-range / full-integer int8 and ONNX, each
measured on the run's test set against the Keras model. Writes RUN_DIR/export/ with
export.json and report.md; exits 1 when a format falls below its agreement threshold."""

from __future__ import annotations

import argparse
import logging
import sys

from mnist_exp.commands import shown
from mnist_exp.errors import MnistExpError, os_error_text
from mnist_exp.exits import DONE, PARTLY, REFUSED, run_stoppable
from mnist_exp.extras import require_for_command
from mnist_exp.quiet_start import quiet_tensorflow_start


def main(argv=None) -> int:
    return run_stoppable(shown("export"), lambda: _export(argv))


def _export(argv) -> int:
    quiet_tensorflow_start()
    require_for_command("export", shown("export"))
    # Imported once the extra is known to be installed.
    from mnist_exp.exporting.export import CALIBRATION_IMAGES, ExportRejected, export_run
    from mnist_exp.exporting.formats import FORMATS

    parser = argparse.ArgumentParser(prog=shown("export"), description=__doc__)
    parser.add_argument("run_dir", help="a finished run's directory")
    parser.add_argument(
        "--formats",
        default=",".join(FORMATS),
        help=f"comma-separated, from {', '.join(FORMATS)} (default: all)",
    )
    parser.add_argument("--force", action="store_true", help="replace a finished export")
    parser.add_argument(
        "--calibration-images",
        type=int,
        default=CALIBRATION_IMAGES,
        help=f"training images for int8 calibration (default {CALIBRATION_IMAGES})",
    )
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    formats = [name.strip() for name in arguments.formats.split(",") if name.strip()]
    try:
        export_run(arguments.run_dir, formats, arguments.force, arguments.calibration_images)
    except ExportRejected as error:
        print(f"{shown('export')}: {error}", file=sys.stderr)
        return PARTLY
    except MnistExpError as error:
        print(f"{shown('export')}: {error}", file=sys.stderr)
        return REFUSED
    except OSError as error:
        print(f"{shown('export')}: {os_error_text(error)}", file=sys.stderr)
        return REFUSED
    return DONE


if __name__ == "__main__":
    sys.exit(main())
