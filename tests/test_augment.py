import torch

from lightcnn.data.augment import normalize, random_hflip, random_translate


def find_shift(original: torch.Tensor, shifted: torch.Tensor, max_shift: int) -> tuple[int, int] | None:
    """The (dy, dx) with shifted[y, x] = original[y - dy, x - dx] (0 outside), if any."""
    h, w = original.shape[-2:]
    padded = torch.nn.functional.pad(original, (max_shift,) * 4)
    for dy in range(-max_shift, max_shift + 1):
        for dx in range(-max_shift, max_shift + 1):
            window = padded[..., max_shift - dy : max_shift - dy + h, max_shift - dx : max_shift - dx + w]
            if torch.equal(window, shifted):
                return dy, dx
    return None


def test_translate_is_a_zero_filled_shift_within_range():
    torch.manual_seed(0)
    images = torch.randint(1, 256, (64, 3, 8, 8), dtype=torch.uint8)  # no zeros: fill is visible
    out = random_translate(images, 2)
    assert out.shape == images.shape and out.dtype == torch.uint8
    shifts = [find_shift(images[i], out[i], 2) for i in range(64)]
    assert all(s is not None for s in shifts)
    assert len(set(shifts)) > 10  # each image gets its own shift


def test_translate_zero_is_identity():
    images = torch.randint(0, 256, (4, 1, 5, 5), dtype=torch.uint8)
    assert random_translate(images, 0) is images


def test_hflip_flips_about_half():
    torch.manual_seed(0)
    images = torch.arange(6, dtype=torch.uint8).view(1, 1, 2, 3).repeat(200, 1, 1, 1)
    out = random_hflip(images)
    flipped = (out == images.flip(3)).flatten(1).all(1)
    same = (out == images).flatten(1).all(1)
    assert bool((flipped | same).all())
    assert 60 < int(flipped.sum()) < 140


def test_normalize_per_channel():
    images = torch.tensor([0, 255], dtype=torch.uint8).view(1, 2, 1, 1).repeat(1, 1, 2, 2)
    out = normalize(images, mean=(0.0, 0.5), std=(1.0, 0.5))
    assert out.dtype == torch.float32
    assert torch.allclose(out[0, 0], torch.zeros(2, 2)) and torch.allclose(out[0, 1], torch.ones(2, 2))
