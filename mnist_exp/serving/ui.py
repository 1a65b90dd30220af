"""The web page (Gradio), mounted in the API's FastAPI app: upload many images and see each
one's prediction beside what the model saw; draw a digit and see the prediction as you draw;
the model's facts. A bad upload shows a readable message, never a stack trace.

The page reads only what a request sent: files inside Gradio's upload folder (this server's
private one), each bounded in size, and goes through the same service, limits and threads as
the API. Gradio's own decoding of the sketch's layers is skipped: only the drawing's bytes are
taken, and the service decodes them within its limits.
"""

from __future__ import annotations

import os
import types
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mnist_exp.serving.service import Answer, PredictionService, RequestRefused
from mnist_exp.serving.upload_quota import CACHE_SECONDS

SHOWN_SIDE = 112  # the 28x28 input, enlarged so that people can see it
TILE, SHEET_COLUMNS = 84, 8  # what the model saw, per uploaded image
TABLE_HEADERS = ("image", "prediction", "confidence", "top 3")
# Gradio's sketchpad opens with no tool chosen, so a drag draws nothing until the brush is
# clicked; the page clicks it whenever the Draw tab is shown.
PICK_BRUSH = """() => {
  for (const wait of [50, 300, 1000]) {
    setTimeout(() => document.querySelector("#sketch button[aria-label='Brush']")?.click(), wait);
  }
}"""
KEPT_SKETCHES = 32  # drawings sent ahead of their prediction, kept at most (oldest dropped)
KEPT_SKETCH_BYTES = 32 * 2**20  # and their bytes together
BLOB_KINDS = ("layer", "background", "composite")
MAX_BLOB_ID = 64  # characters: the page's ids are short random strings


class UploadRefused(Exception):
    """A path that is not a file this request uploaded, or one over the size limit."""


def read_upload(path: str, upload_root: Path, max_bytes: int) -> bytes:
    """The bytes of a file Gradio received in a request: inside `upload_root`, not a link,
    at most `max_bytes`.

    Raises:
        UploadRefused: for anything else, naming the file by its name only.
    """
    name = Path(path).name
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(upload_root.resolve()):
        raise UploadRefused(f"{name}: not a file uploaded to this page.")
    try:
        descriptor = os.open(resolved, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        raise UploadRefused(f"{name}: the upload cannot be read.") from None
    with os.fdopen(descriptor, "rb") as stream:
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UploadRefused(f"{name}: over the limit of {max_bytes:,} bytes per image.")
    return data


def _enlarged(pixels: np.ndarray, side: int = SHOWN_SIDE) -> Image.Image:
    return Image.fromarray(pixels).resize((side, side), Image.Resampling.NEAREST)


def contact_sheet(answers: list[Answer]) -> Image.Image:
    """The 28x28 inputs the model saw, TILE pixels each, SHEET_COLUMNS to a row, each
    captioned with its file's name and the predicted class."""
    columns = min(SHEET_COLUMNS, len(answers))
    rows = -(-len(answers) // columns)
    sheet = Image.new("RGB", (columns * (TILE + 8), rows * (TILE + 30)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=11)
    for index, answer in enumerate(answers):
        left, top = (index % columns) * (TILE + 8) + 4, (index // columns) * (TILE + 30) + 4
        if answer.preprocessed is not None:
            tile = _enlarged(answer.preprocessed.pixels, TILE).convert("RGB")
            sheet.paste(tile, (left, top))
        verdict = _verdict(answer)
        draw.text((left, top + TILE + 2), _short(answer.filename), fill="black", font=font)
        draw.text((left, top + TILE + 14), _short(verdict), fill="black", font=font)
    return sheet


def _verdict(answer: Answer) -> str:
    if answer.error is not None:
        return "unreadable"
    return "blank" if answer.blank else f"pred {answer.class_name}"


def _short(text: str, limit: int = 14) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _table_row(answer: Answer, names) -> list[str]:
    if answer.error is not None:
        return [answer.filename, "(unreadable)", "", answer.error]
    if answer.blank:
        return [answer.filename, "(blank)", "", "no digit found"]
    order = np.argsort(answer.probabilities)[::-1][:3]
    top = ", ".join(f"{names[i]} {answer.probabilities[i]:.0%}" for i in order)
    return [answer.filename, answer.class_name, f"{answer.confidence:.1%}", top]


def facts_markdown(service: PredictionService) -> str:
    facts = service.facts()
    lines = ["### Model"]
    for key, label in (("run", "Run"), ("model", "Model"), ("dataset", "Dataset")):
        if key in facts:
            lines.append(f"- **{label}:** `{facts[key]}`")
    if "test_accuracy" in facts:
        lines.append(f"- **Test accuracy:** {facts['test_accuracy']:.2%}")
    lines.append(f"- **Format:** {facts['format']} (`{facts['file']}`)")
    lines.append(f"- **Classes:** {', '.join(facts['class_names'])}")
    return "\n".join(lines)


class _RecentBlobs(OrderedDict):
    """The sketchpad's drawings in flight, the most recent KEPT_SKETCHES (and at most
    KEPT_SKETCH_BYTES) only: each client can send one per stroke, and Gradio would keep every
    one it never predicts."""

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > KEPT_SKETCHES or (
            len(self) > 1
            and sum(len(blobs.composite or b"") for blobs in self.values()) > KEPT_SKETCH_BYTES
        ):
            self.popitem(last=False)


def _blob_refused(message: str):
    from fastapi import HTTPException

    return HTTPException(422, f"Refused sketch data: {message}")


def _accept_drawing(max_bytes: int):
    """Gradio's `accept_blobs` server function for the sketchpad (POST
    /gradio_api/component_server), bounded: Gradio's own keeps one slot for every layer index
    up to the one a caller sends (one 400-byte request with index 100000000 took 2 GB). Only
    the composite is kept, since it is all the page predicts from; a layer index other than
    0, an unknown kind, a long id or a file over the limit is refused."""
    from gradio.components.image_editor import EditorDataBlobs

    def accept_blobs(sketchpad, payload) -> None:
        fields, files = payload.data, payload.files
        kind, index, blob_id = fields.get("type"), fields.get("index"), fields.get("id")
        if kind not in BLOB_KINDS:
            raise _blob_refused(f"type must be one of {', '.join(BLOB_KINDS)}.")
        if kind == "layer" and str(index) not in ("0", "None", "null", ""):
            raise _blob_refused("the page's sketchpad has one layer (index 0).")
        if not isinstance(blob_id, str) or not 0 < len(blob_id) <= MAX_BLOB_ID:
            raise _blob_refused(f"id must be a string of 1 to {MAX_BLOB_ID} characters.")
        if len(files) != 1 or len(files[0][1]) > max_bytes:
            raise _blob_refused(f"send one file of at most {max_bytes:,} bytes.")
        if kind == "composite":
            sketchpad.blob_storage[blob_id] = EditorDataBlobs(
                background=None, layers=[], composite=files[0][1]
            )

    accept_blobs._is_server_fn = True  # what Gradio's `@server` marks
    return accept_blobs


def _digit_sketchpad(upload_root: Path, max_bytes: int, **options):
    """gr.Sketchpad whose value is the drawing's PNG bytes, decoded later by the service.
    Changed on the instance: a subclass would make Gradio write a .pyi beside this module."""
    import gradio as gr
    from gradio.data_classes import FileData

    def drawing_bytes(sketchpad, payload) -> bytes | None:
        if payload is None:
            return None
        if payload.id is not None:
            blobs = sketchpad.blob_storage.pop(payload.id, None)
            composite = blobs.composite if blobs is not None else None
        else:
            composite = payload.composite
        if isinstance(composite, FileData):
            try:
                return read_upload(composite.path, upload_root, max_bytes)
            except UploadRefused as error:
                raise gr.Error(str(error)) from None
        if composite is not None and len(composite) > max_bytes:
            raise gr.Error(f"The drawing is over the limit of {max_bytes:,} bytes.")
        return composite

    sketchpad = gr.Sketchpad(**options)
    sketchpad.blob_storage = _RecentBlobs()
    sketchpad.preprocess = types.MethodType(drawing_bytes, sketchpad)
    sketchpad.accept_blobs = types.MethodType(_accept_drawing(max_bytes), sketchpad)
    return sketchpad


def _uploads_note(answers: list[Answer]) -> str:
    blank = sum(a.blank for a in answers)
    unreadable = sum(a.error is not None for a in answers)
    notes = [f"{blank} blank: no digit found, no prediction"] * bool(blank) + [
        f"{unreadable} unreadable: see the table"
    ] * bool(unreadable)
    note = f" ({'; '.join(notes)})" if notes else ""
    return f"{len(answers)} image(s) predicted.{note}"


def _upload_tab(service: PredictionService, upload_root: Path) -> None:
    """Many images at once: a table of predictions and a sheet of what the model saw."""
    import gradio as gr

    max_bytes = service.limits.max_file_bytes

    async def classify_uploads(paths):
        if not paths:
            return None, gr.Image(visible=False), "Upload one or more images first."
        try:
            files = [(Path(p).name, read_upload(p, upload_root, max_bytes)) for p in paths]
            answers = await service.classify_files(files)
        except (RequestRefused, UploadRefused) as error:
            return None, gr.Image(visible=False), f"**Cannot predict:** {error}"
        rows = [_table_row(answer, service.class_names) for answer in answers]
        seen = gr.Image(contact_sheet(answers), visible=True)
        return rows, seen, _uploads_note(answers)

    uploads = gr.File(file_count="multiple", file_types=["image"], label="Images (one or many)")
    button = gr.Button("Predict", variant="primary")
    message = gr.Markdown(elem_id="upload-message")
    table = gr.Dataframe(
        headers=list(TABLE_HEADERS),
        label="Predictions",
        interactive=False,
        wrap=True,
        elem_id="predictions",
    )
    seen = gr.Image(
        label=f"What the model saw ({service.input.caption})",
        visible=False,
        show_label=True,
        elem_id="seen",
    )
    button.click(classify_uploads, uploads, [table, seen, message])


def _draw_tab(service: PredictionService, upload_root: Path) -> None:
    """A sketchpad whose prediction follows the drawing."""
    import gradio as gr

    async def classify_sketch(drawing: bytes | None):
        if not drawing:
            return None, None
        try:
            (answer,) = await service.classify_files([("sketch", drawing)])
        except RequestRefused:
            return None, None
        if answer.blank:
            return None, None
        scores = dict(zip(service.class_names, answer.probabilities, strict=True))
        return scores, _enlarged(answer.preprocessed.pixels)

    gr.Markdown("Draw a digit in the box with the mouse, a pen or a finger; the "
                "prediction follows as you draw.")  # fmt: skip
    with gr.Row():
        sketch = _digit_sketchpad(
            upload_root,
            service.limits.max_file_bytes,
            label="Draw a digit",
            canvas_size=(280, 280),
            brush=gr.Brush(default_size=16, colors=["#000000"], color_mode="fixed"),
            layers=False,
            placeholder="Draw a digit here",
            elem_id="sketch",
        )
        with gr.Column():
            label = gr.Label(num_top_classes=3, label="Prediction", elem_id="sketch-label")
            sketch_seen = gr.Image(label="What the model saw", height=160, elem_id="sketch-seen")
            gr.ClearButton([sketch, label, sketch_seen], value="Clear the drawing")
    sketch.change(classify_sketch, sketch, [label, sketch_seen], show_progress="hidden")


def build_ui(service: PredictionService, upload_root: Path):
    """The page. `upload_root` is Gradio's upload folder (GRADIO_TEMP_DIR) for this server."""
    import gradio as gr

    with gr.Blocks(title="mnist_exp", delete_cache=(60, CACHE_SECONDS)) as page:
        gr.Markdown("# mnist_exp: try the model")
        gr.Markdown(facts_markdown(service))
        with gr.Tab("Upload images"):
            _upload_tab(service, upload_root)
        with gr.Tab("Draw") as draw_tab:
            _draw_tab(service, upload_root)
            draw_tab.select(None, None, None, js=PICK_BRUSH)
        page.load(None, None, None, js=PICK_BRUSH)
    return page
