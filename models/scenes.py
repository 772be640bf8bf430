"""Synthetic scenes with exact per-pixel labels for the built-in default segmentation model.

Deterministic from a seed: ``make_scene(seed, size)`` always returns the same image and mask.
Numpy only (plus zlib for the PNG writer), so it runs wherever Debian's python3-numpy does.

Classes (index: name) -- each object class has its own shape AND its own texture family, with
random colours, scale, orientation and texture parameters, so neither colour nor texture alone
decides the class:

  0 background  low-frequency colour noise, thin lines, and irregular clutter blobs (flat, smooth or
                wavy); 15 % of the blobs wear one of the object classes' textures, so texture alone is
                not enough there and the shape has to decide
  1 disc        circle (slightly elliptic), polka-dot texture
  2 rectangle   rotated rectangle, checkerboard texture
  3 triangle    rotated triangle, stripe texture
  4 ring        annulus, cross-hatch texture
  5 star        five-pointed star, blocky speckle texture

Objects range from small (radius ~6 px at 256x256) to most of the image (radius ~0.47 of the side),
overlap (the label is the topmost object), and the image gets blur, noise and contrast jitter after
the labels are fixed, so the labels stay exact.

Domains (``make_scene(seed, size, domain)``):

  default   the scenes above: what the built-in model was trained on
  shifted   the same shapes, placement and photometrics, but each object class wears the NEXT class's
            texture family (disc: checkerboard, rectangle: stripes, triangle: cross-hatch, ring: blocky
            speckle, star: polka dots), and so do the clutter blobs that wear a class texture. Texture is
            half of what the built-in model learned to look at, so it degrades there; a model fine-tuned on
            shifted scenes has to re-learn which texture goes with which shape. (Used by the fine-tuning
            proof in examples/segment-node/README.md.)

Command line:
  python3 models/scenes.py samples OUT_DIR [--count 20] [--size 256] [--first-seed 1000000] [--domain default]
writes OUT_DIR/scene-XX.png (RGB) and OUT_DIR/scene-XX.mask.png (8-bit grey, value = class index).
"""

import math
import os
import struct
import sys
import zlib

import numpy as np

CLASSES = ["background", "disc", "rectangle", "triangle", "ring", "star"]
# Display colours for masks/overlays (RGB), index = class.
PALETTE = [
    (0, 0, 0),
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
]
# Seeds at or above this value are held out (never used for training).
HELD_OUT_FIRST_SEED = 1_000_000


# ----------------------------------------------------------------------------------------------
# small helpers

def _random_colour(rng):
    return rng.uniform(0.0, 1.0, size=3)


def _colour_pair(rng, min_dist=0.45):
    """Two colours far enough apart that the texture stays visible."""
    a = _random_colour(rng)
    for _ in range(20):
        b = _random_colour(rng)
        if np.linalg.norm(a - b) >= min_dist:
            return a, b
    return a, 1.0 - a


def _upsample_bilinear(grid, h, w):
    """Bilinear upsampling of a small (gh, gw, c) grid to (h, w, c), half-pixel centres."""
    gh, gw = grid.shape[:2]
    ys = (np.arange(h) + 0.5) * gh / h - 0.5
    xs = (np.arange(w) + 0.5) * gw / w - 0.5
    ys = np.clip(ys, 0, gh - 1)
    xs = np.clip(xs, 0, gw - 1)
    y0 = np.floor(ys).astype(np.int64)
    x0 = np.floor(xs).astype(np.int64)
    y1 = np.minimum(y0 + 1, gh - 1)
    x1 = np.minimum(x0 + 1, gw - 1)
    fy = (ys - y0)[:, None, None]
    fx = (xs - x0)[None, :, None]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x1] * fx
    bot = grid[y1][:, x0] * (1 - fx) + grid[y1][:, x1] * fx
    return top * (1 - fy) + bot * fy


def _gauss_blur(img, sigma):
    """Separable Gaussian blur of an (h, w, c) float image with edge replication."""
    if sigma <= 0.05:
        return img
    r = max(1, int(math.ceil(2.5 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    p = np.pad(img, ((r, r), (0, 0), (0, 0)), mode="edge")
    out = np.zeros_like(img)
    for i, kv in enumerate(k):
        out += kv * p[i:i + img.shape[0]]
    p = np.pad(out, ((0, 0), (r, r), (0, 0)), mode="edge")
    out2 = np.zeros_like(img)
    for i, kv in enumerate(k):
        out2 += kv * p[:, i:i + img.shape[1]]
    return out2


# ----------------------------------------------------------------------------------------------
# textures: each returns an (h, w, 3) float image for pixel coordinates (yy, xx)

def _rot(yy, xx, theta):
    c, s = math.cos(theta), math.sin(theta)
    return xx * c + yy * s, -xx * s + yy * c


def tex_dots(rng, yy, xx):
    a, b = _colour_pair(rng)
    period = rng.uniform(5.0, 13.0)
    rad = period * rng.uniform(0.22, 0.36)
    u, v = _rot(yy, xx, rng.uniform(0, math.pi))
    u = u + rng.uniform(0, period)
    v = v + rng.uniform(0, period)
    du = (u % period) - period / 2
    dv = (v % period) - period / 2
    inside = (du * du + dv * dv) <= rad * rad
    return np.where(inside[..., None], b, a)


def tex_checker(rng, yy, xx):
    a, b = _colour_pair(rng)
    period = rng.uniform(5.0, 16.0)
    u, v = _rot(yy, xx, rng.uniform(0, math.pi / 2))
    cell = (np.floor(u / period) + np.floor(v / period)).astype(np.int64) & 1
    return np.where(cell[..., None] == 1, b, a)


def tex_stripes(rng, yy, xx):
    a, b = _colour_pair(rng)
    period = rng.uniform(4.0, 13.0)
    duty = rng.uniform(0.35, 0.65)
    u, _ = _rot(yy, xx, rng.uniform(0, math.pi))
    on = ((u / period) % 1.0) < duty
    return np.where(on[..., None], b, a)


def tex_hatch(rng, yy, xx):
    """Cross-hatch: two families of thin lines at a random angle between them."""
    a, b = _colour_pair(rng)
    period = rng.uniform(5.0, 12.0)
    width = period * rng.uniform(0.2, 0.35)
    t0 = rng.uniform(0, math.pi)
    u, _ = _rot(yy, xx, t0)
    v, _ = _rot(yy, xx, t0 + rng.uniform(math.pi / 3, 2 * math.pi / 3))
    on = ((u % period) < width) | ((v % period) < width)
    return np.where(on[..., None], b, a)


def tex_speckle(rng, yy, xx):
    a, b = _colour_pair(rng)
    cell = int(rng.integers(2, 5))
    h, w = yy.shape
    gh, gw = h // cell + 2, w // cell + 2
    noise = rng.uniform(0, 1, size=(gh, gw)) < 0.5
    oy, ox = int(rng.integers(0, cell)), int(rng.integers(0, cell))
    iy = ((np.arange(h) + oy) // cell)[:, None]
    ix = ((np.arange(w) + ox) // cell)[None, :]
    on = noise[iy, ix]
    return np.where(on[..., None], b, a)


def tex_flat(rng, yy, xx):
    return np.broadcast_to(_random_colour(rng), yy.shape + (3,))


def tex_lowfreq(rng, yy, xx):
    h, w = yy.shape
    gh, gw = int(rng.integers(2, 5)), int(rng.integers(2, 5))
    return _upsample_bilinear(rng.uniform(0, 1, size=(gh, gw, 3)), h, w)


def tex_waves(rng, yy, xx):
    a, b = _colour_pair(rng)
    p1, p2 = rng.uniform(6, 20), rng.uniform(10, 30)
    u, v = _rot(yy, xx, rng.uniform(0, math.pi))
    t = 0.5 + 0.5 * np.sin(2 * math.pi * u / p1 + 2.0 * np.sin(2 * math.pi * v / p2))
    return a * (1 - t[..., None]) + b * t[..., None]


CLASS_TEXTURES = {1: tex_dots, 2: tex_checker, 3: tex_stripes, 4: tex_hatch, 5: tex_speckle}
# The texture each class wears in each domain (see the module docstring).
DOMAIN_TEXTURES = {
    "default": CLASS_TEXTURES,
    "shifted": {c: CLASS_TEXTURES[c % 5 + 1] for c in CLASS_TEXTURES},
}
DOMAINS = tuple(DOMAIN_TEXTURES)
BACKGROUND_TEXTURES = [tex_flat, tex_lowfreq, tex_waves]
# Share of clutter blobs that wear one of the object classes' textures (shape must then decide).
CLUTTER_CLASS_TEXTURE_P = 0.15


# ----------------------------------------------------------------------------------------------
# shapes: each returns a boolean mask over the window (yy, xx) and is exact at pixel centres

def _polygon_mask(yy, xx, verts):
    """Even-odd point-in-polygon test at pixel centres (verts: list of (x, y))."""
    inside = np.zeros(yy.shape, dtype=bool)
    n = len(verts)
    for i in range(n):
        x1, y1 = verts[i]
        x2, y2 = verts[(i + 1) % n]
        if y1 == y2:
            continue
        cond = (yy >= min(y1, y2)) & (yy < max(y1, y2))
        xi = x1 + (yy - y1) * (x2 - x1) / (y2 - y1)
        inside ^= cond & (xx < xi)
    return inside


def shape_disc(rng, yy, xx, cx, cy, r):
    asp = rng.uniform(0.85, 1.0)
    u, v = _rot(yy - cy, xx - cx, rng.uniform(0, math.pi))
    return (u / r) ** 2 + (v / (r * asp)) ** 2 <= 1.0


def shape_rect(rng, yy, xx, cx, cy, r):
    a = r * rng.uniform(0.55, 0.95)
    b = a * rng.uniform(0.45, 1.0)
    u, v = _rot(yy - cy, xx - cx, rng.uniform(0, math.pi))
    return (np.abs(u) <= a) & (np.abs(v) <= b)


def shape_triangle(rng, yy, xx, cx, cy, r):
    t0 = rng.uniform(0, 2 * math.pi)
    verts = []
    for k in range(3):
        ang = t0 + k * 2 * math.pi / 3 + rng.uniform(-0.25, 0.25)
        rad = r * rng.uniform(0.85, 1.0)
        verts.append((cx + rad * math.cos(ang), cy + rad * math.sin(ang)))
    return _polygon_mask(yy, xx, verts)


def shape_ring(rng, yy, xx, cx, cy, r):
    inner = r * rng.uniform(0.45, 0.7)
    d2 = (yy - cy) ** 2 + (xx - cx) ** 2
    return (d2 <= r * r) & (d2 >= inner * inner)


def shape_star(rng, yy, xx, cx, cy, r):
    t0 = rng.uniform(0, 2 * math.pi)
    inner = r * rng.uniform(0.4, 0.55)
    verts = []
    for k in range(10):
        rad = r if k % 2 == 0 else inner
        ang = t0 + k * math.pi / 5
        verts.append((cx + rad * math.cos(ang), cy + rad * math.sin(ang)))
    return _polygon_mask(yy, xx, verts)


def shape_blob(rng, yy, xx, cx, cy, r):
    """Irregular clutter blob: a radius that wobbles with angle (never one of the classes' shapes)."""
    ang = np.arctan2(yy - cy, xx - cx)
    rr = np.ones_like(ang)
    for k in (2, 3, 4, 5):
        rr += rng.uniform(0.06, 0.22) * np.sin(k * ang + rng.uniform(0, 2 * math.pi))
    d2 = (yy - cy) ** 2 + (xx - cx) ** 2
    return d2 <= (r * rr) ** 2


CLASS_SHAPES = {1: shape_disc, 2: shape_rect, 3: shape_triangle, 4: shape_ring, 5: shape_star}


# ----------------------------------------------------------------------------------------------
# the scene

def _paint(img, lab, rng, shape_fn, tex_fn, cx, cy, r, label, size, alpha=1.0):
    """Paint one shape (exact mask) with a texture into img (and lab unless label is None)."""
    x0 = max(0, int(math.floor(cx - r * 1.5)))
    x1 = min(size, int(math.ceil(cx + r * 1.5)) + 1)
    y0 = max(0, int(math.floor(cy - r * 1.5)))
    y1 = min(size, int(math.ceil(cy + r * 1.5)) + 1)
    if x1 <= x0 or y1 <= y0:
        return 0
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    yy += 0.5
    xx += 0.5
    m = shape_fn(rng, yy, xx, cx, cy, r)
    if not m.any():
        return 0
    tex = tex_fn(rng, yy, xx)
    win = img[y0:y1, x0:x1]
    win[m] = win[m] * (1 - alpha) + tex[m] * alpha
    if label is not None:
        lab[y0:y1, x0:x1][m] = label
    return int(m.sum())


def make_scene(seed, size=256, domain="default"):
    """Return (image uint8 [size, size, 3], mask uint8 [size, size]) for this seed in this domain."""
    if domain not in DOMAIN_TEXTURES:
        raise ValueError("domain must be one of %s, got %r" % (", ".join(DOMAINS), domain))
    textures = DOMAIN_TEXTURES[domain]
    rng = np.random.default_rng(seed)
    s = float(size)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5

    # background: low-frequency colour noise, sometimes mixed with a faint texture
    g = int(rng.integers(3, 9))
    img = _upsample_bilinear(rng.uniform(0, 1, size=(g, g, 3)), size, size)
    if rng.uniform() < 0.5:
        img = img * 0.75 + 0.25 * BACKGROUND_TEXTURES[int(rng.integers(0, 3))](rng, yy, xx)
    img = np.ascontiguousarray(img)
    lab = np.zeros((size, size), dtype=np.uint8)

    # clutter: thin lines
    for _ in range(int(rng.integers(0, 7))):
        x1, y1, x2, y2 = rng.uniform(0, s, size=4)
        width = rng.uniform(0.6, 2.2)
        dx, dy = x2 - x1, y2 - y1
        L2 = dx * dx + dy * dy + 1e-9
        t = np.clip(((xx - x1) * dx + (yy - y1) * dy) / L2, 0, 1)
        d2 = (xx - x1 - t * dx) ** 2 + (yy - y1 - t * dy) ** 2
        m = d2 <= width * width
        img[m] = _random_colour(rng)

    # clutter: irregular blobs, some wearing the object classes' textures
    for _ in range(int(rng.integers(2, 11))):
        r = s * math.exp(rng.uniform(math.log(0.02), math.log(0.12)))
        cx, cy = rng.uniform(0, s, size=2)
        if rng.uniform() < CLUTTER_CLASS_TEXTURE_P:
            tex = textures[int(rng.integers(1, 6))]
        else:
            tex = BACKGROUND_TEXTURES[int(rng.integers(0, len(BACKGROUND_TEXTURES)))]
        _paint(img, lab, rng, shape_blob, tex, cx, cy, r, None, size, alpha=rng.uniform(0.6, 1.0))

    # objects: log-uniform sizes from small to most of the image; big ones first, mostly
    n = int(rng.integers(2, 9))
    radii = [s * math.exp(rng.uniform(math.log(0.025), math.log(0.47))) for _ in range(n)]
    radii.sort(reverse=True)
    if n > 1 and rng.uniform() < 0.3:
        rng.shuffle(radii)
    for r in radii:
        cls = int(rng.integers(1, 6))
        cx = rng.uniform(-0.1 * r, s + 0.1 * r)
        cy = rng.uniform(-0.1 * r, s + 0.1 * r)
        _paint(img, lab, rng, CLASS_SHAPES[cls], textures[cls], cx, cy, r, cls, size)

    # photometric: contrast/brightness jitter, blur, noise (labels stay exact)
    img = (img - 0.5) * rng.uniform(0.7, 1.15) + 0.5 + rng.uniform(-0.1, 0.1)
    img = _gauss_blur(img, rng.uniform(0.0, 1.3))
    img = img + rng.normal(0.0, rng.uniform(0.0, 0.06), size=img.shape)
    img = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return img, lab


# ----------------------------------------------------------------------------------------------
# PNG I/O (8-bit RGB or grey, no interlace) without extra dependencies

def write_png(path, arr):
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    if arr.ndim == 2:
        h, w = arr.shape
        ctype, ch = 0, 1
    else:
        h, w, ch = arr.shape
        ctype = {3: 2, 4: 6}[ch]
    raw = b"".join(b"\x00" + arr[y].tobytes() for y in range(h))

    def chunk(tag, data):
        c = struct.pack(">I", len(data)) + tag + data
        return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def read_png(path):
    """Reads the 8-bit grey/RGB/RGBA non-interlaced PNGs written above (all five filter types)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, idat = 8, b""
    while pos < len(data):
        (ln,) = struct.unpack(">I", data[pos:pos + 4])
        tag = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + ln]
        if tag == b"IHDR":
            w, h, depth, ctype, _, _, inter = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and inter == 0 and ctype in (0, 2, 6), (path, depth, ctype, inter)
        elif tag == b"IDAT":
            idat += body
        pos += 12 + ln
    ch = {0: 1, 2: 3, 6: 4}[ctype]
    raw = zlib.decompress(idat)
    stride = w * ch
    out = np.zeros((h, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(h):
        ft = raw[y * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=y * (stride + 1) + 1).astype(np.int32)
        if ft == 0:
            cur = line
        elif ft == 2:
            cur = (line + prev) & 255
        else:
            cur = np.zeros(stride, dtype=np.int32)
            for i in range(stride):
                a = cur[i - ch] if i >= ch else 0
                b = prev[i]
                c = prev[i - ch] if i >= ch else 0
                if ft == 1:
                    p = a
                elif ft == 3:
                    p = (a + b) >> 1
                else:
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if (pa <= pb and pa <= pc) else (b if pb <= pc else c)
                cur[i] = (line[i] + p) & 255
        out[y] = cur
        prev = cur
    return out.reshape(h, w, ch) if ch > 1 else out.reshape(h, w)


def write_samples(out_dir, count=20, size=256, first_seed=HELD_OUT_FIRST_SEED, domain="default"):
    os.makedirs(out_dir, exist_ok=True)
    names = []
    for i in range(count):
        img, lab = make_scene(first_seed + i, size, domain)
        base = "scene-%02d" % i
        write_png(os.path.join(out_dir, base + ".png"), img)
        write_png(os.path.join(out_dir, base + ".mask.png"), lab)
        names.append((base, first_seed + i))
    return names


def _main(argv):
    if len(argv) >= 2 and argv[0] == "samples":
        out_dir = argv[1]
        opts = {"--count": 20, "--size": 256, "--first-seed": HELD_OUT_FIRST_SEED, "--domain": "default"}
        i = 2
        while i < len(argv):
            if argv[i] not in opts or i + 1 >= len(argv):
                raise SystemExit("unknown or incomplete option: %r" % argv[i])
            if argv[i] == "--domain":
                if argv[i + 1] not in DOMAINS:
                    raise SystemExit("--domain must be one of %s, got %r" % (", ".join(DOMAINS), argv[i + 1]))
                opts["--domain"] = argv[i + 1]
            else:
                opts[argv[i]] = int(argv[i + 1])
            i += 2
        names = write_samples(out_dir, opts["--count"], opts["--size"], opts["--first-seed"], opts["--domain"])
        print("wrote %d %s scenes to %s (seeds %d..%d)" % (len(names), opts["--domain"], out_dir, names[0][1], names[-1][1]))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
