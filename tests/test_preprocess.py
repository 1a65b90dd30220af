"""The MNIST recipe on users' images as they come: grey paper, uneven light, small digits."""

import numpy as np
from drawn_shapes import drawn

from benchmarks.user_digits import PROXY_SETS, as_model_input, proxy_set
from mnist_exp.imaging import preprocess
from mnist_exp.imaging.preprocess import mnist_style, mnist_style_many


def clean_digit(label: int = 2) -> np.ndarray:
    """A digit-like shape drawn with dark ink on white paper, as grey levels in [0, 1]."""
    return np.asarray(drawn(label, np.random.default_rng(label)), np.float64) / 255


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1])


def test_a_digit_in_uneven_light_reads_like_the_same_digit_in_even_light():
    paper = clean_digit()
    light = np.outer(np.ones(paper.shape[0]), np.linspace(0.35, 1.0, paper.shape[1]))
    shaded = paper * light
    expected = mnist_style(paper)
    got = mnist_style(shaded)
    assert got.inverted and not got.blank
    assert similarity(got.pixels, expected.pixels) > 0.9


def mnist_form_digits(count: int) -> np.ndarray:
    """`count` digit-like shapes in MNIST's form: 28x28 uint8, light ink on black."""
    return np.stack([(255 * (1.0 - clean_digit(label % 10)[::7, ::7][:28, :28])).astype(np.uint8)
                     for label in range(count)])  # fmt: skip


def test_dark_ink_is_found_on_photos_whose_shadow_darkens_most_of_the_border():
    photos = proxy_set("photo_like", mnist_form_digits(20), seed=0)
    results = [mnist_style(np.asarray(photo, np.float64) / 255) for photo in photos]
    assert all(result.inverted and not result.blank for result in results)


def test_grey_paper_darker_than_mid_grey_is_still_paper():
    paper = 0.1 + 0.35 * clean_digit()  # ink at 0.1 on paper at 0.45
    result = mnist_style(paper)
    assert result.inverted
    assert similarity(result.pixels, mnist_style(clean_digit()).pixels) > 0.9


def test_an_mnist_form_digit_is_taken_as_it_is():
    ink = 1.0 - clean_digit()  # light ink on black, as MNIST
    result = mnist_style(ink)
    assert not result.inverted
    assert similarity(result.pixels, mnist_style(clean_digit()).pixels) > 0.99


def test_the_proxy_sets_are_reproducible_from_their_seed():
    digits = mnist_form_digits(3)
    for name in PROXY_SETS:
        first = [np.asarray(image) for image in proxy_set(name, digits, seed=5)]
        again = [np.asarray(image) for image in proxy_set(name, digits, seed=5)]
        assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True)), name
    assert as_model_input(proxy_set("photo_like", digits, seed=5)).shape == (3, 28, 28)


def varied_images(rng) -> list[np.ndarray]:
    """Digits as users send them, shapes mixed: MNIST's form, dark ink on paper, grey paper,
    uneven light, enlarged, blank, and a large canvas."""
    images = []
    for label in range(12):
        paper = clean_digit(label % 10)
        small = paper[::7, ::7][:28, :28]
        images += [
            1.0 - small,
            small,
            0.1 + 0.35 * small,
            small * np.linspace(0.35, 1.0, 28)[None, :],
            np.kron(1.0 - small, np.ones((3, 3))),
            np.full((28, 28), rng.uniform()),
        ]
    images.append(clean_digit(7))  # 200x200
    return [images[index] for index in rng.permutation(len(images))]


def test_images_read_together_each_get_what_they_get_alone(monkeypatch):
    images = varied_images(np.random.default_rng(0))
    alone = [mnist_style(image) for image in images]
    together = mnist_style_many(images)
    monkeypatch.setattr(preprocess, "STACK_PIXELS", 5 * 28 * 28)  # stacks of five at most
    in_small_stacks = mnist_style_many(images)
    assert {result.blank for result in alone} == {True, False}
    assert {result.inverted for result in alone} == {True, False}
    for one, many, small in zip(alone, together, in_small_stacks, strict=True):
        assert np.array_equal(one.pixels, many.pixels) and np.array_equal(one.pixels, small.pixels)
        facts = [(result.inverted, result.blank) for result in (one, many, small)]
        assert facts[0] == facts[1] == facts[2]
