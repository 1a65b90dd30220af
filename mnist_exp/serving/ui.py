"""The web page (Gradio), mounted in the API's FastAPI app: upload many images and see each
one's prediction beside what the model saw; draw a digit and see the prediction as you draw;
the model's facts. A bad upload shows a readable message, never a stack trace."""

from __future__ import annotations

import numpy as np
from PIL import Image

from mnist_exp.imaging.decode import as_gray
from mnist_exp.imaging.preprocess import mnist_style
from mnist_exp.serving.service import Answer, PredictionService, RequestRefused

SHOWN_SIDE = 112  # the 28x28 input, enlarged so that people can see it


def _enlarged(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(pixels).resize((SHOWN_SIDE, SHOWN_SIDE), Image.Resampling.NEAREST)


def _caption(answer: Answer, names) -> str:
    order = np.argsort(answer.probabilities)[::-1][:3]
    top = ", ".join(f"{names[i]} {answer.probabilities[i]:.2f}" for i in order)
    return f"{answer.class_name} ({answer.confidence:.1%}) · top 3: {top}"


def facts_markdown(service: PredictionService) -> str:
    facts = service.facts()
    lines = ["### Model"]
    for key, label in (("run_dir", "Run"), ("model", "Model"), ("dataset", "Dataset")):
        if key in facts:
            lines.append(f"- **{label}:** `{facts[key]}`")
    if "test_accuracy" in facts:
        lines.append(f"- **Test accuracy:** {facts['test_accuracy']:.2%}")
    lines.append(f"- **Format:** {facts['format']} (`{facts['path']}`)")
    lines.append(f"- **Classes:** {', '.join(facts['class_names'])}")
    return "\n".join(lines)


def build_ui(service: PredictionService):
    import gradio as gr

    names = service.class_names

    async def classify_uploads(paths):
        if not paths:
            return [], [], "Upload one or more images first."
        files = []
        for path in paths:
            with open(path, "rb") as stream:
                files.append((path.rsplit("/", 1)[-1], stream.read()))
        try:
            answers = await service.classify_files(files)
        except RequestRefused as error:
            return [], [], f"**Cannot predict:** {error}"
        gallery = [
            (Image.open(path).convert("RGB"), _caption(a, names))
            for path, a in zip(paths, answers, strict=True)
        ]
        seen = [
            (_enlarged(a.preprocessed.pixels), f"{a.filename}: {a.class_name}") for a in answers
        ]
        return gallery, seen, f"{len(answers)} image(s) predicted."

    async def classify_sketch(value):
        composite = (value or {}).get("composite")
        if composite is None:
            return None, None
        prepared = mnist_style(as_gray(Image.fromarray(np.asarray(composite))))
        if prepared.blank:
            return None, None
        try:
            probabilities = (await service.classify_pixels(prepared.pixels[np.newaxis]))[0]
        except RequestRefused:
            return None, None
        scores = {names[i]: float(p) for i, p in enumerate(probabilities)}
        return scores, _enlarged(prepared.pixels)

    with gr.Blocks(title="mnist_exp") as page:
        gr.Markdown("# mnist_exp: try the model")
        gr.Markdown(facts_markdown(service))
        with gr.Tab("Upload images"):
            uploads = gr.File(
                file_count="multiple", file_types=["image"], label="Images (one or many)"
            )
            button = gr.Button("Predict", variant="primary")
            message = gr.Markdown(elem_id="upload-message")
            gallery = gr.Gallery(
                label="Predictions",
                columns=6,
                object_fit="contain",
                height="auto",
                elem_id="predictions",
            )
            seen = gr.Gallery(
                label="What the model saw (28x28, light ink on black)", columns=10,
                object_fit="contain", height="auto", elem_id="seen",
            )  # fmt: skip
            button.click(classify_uploads, uploads, [gallery, seen, message])
        with gr.Tab("Draw"):
            with gr.Row():
                sketch = gr.Sketchpad(
                    label="Draw a digit",
                    canvas_size=(280, 280),
                    brush=gr.Brush(default_size=16, colors=["#000000"], color_mode="fixed"),
                    layers=False,
                    placeholder="Pick the brush on the left, then draw a digit",
                    elem_id="sketch",
                )
                with gr.Column():
                    label = gr.Label(num_top_classes=3, label="Prediction", elem_id="sketch-label")
                    sketch_seen = gr.Image(label="What the model saw", elem_id="sketch-seen")
            sketch.change(classify_sketch, sketch, [label, sketch_seen], show_progress="hidden")
    return page
