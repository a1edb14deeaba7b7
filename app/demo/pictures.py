"""Drawn pictures for the demo initiatives (the demo has no real photos), one motif per category."""

from __future__ import annotations

import random

from PIL import Image, ImageDraw

WIDTH, HEIGHT = 900, 600
SKY = (198, 222, 240)
GRASS = (120, 170, 90)
STREET = (170, 170, 170)


def picture(category: str, seed: int) -> tuple[Image.Image, str]:
    """A simple drawing for `category` and its alt text (Dutch)."""
    rng = random.Random(seed)
    image = Image.new("RGB", (WIDTH, HEIGHT), SKY)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 380, WIDTH, HEIGHT), fill=GRASS)
    draw.ellipse((680, 50, 800, 170), fill=(250, 210, 90))
    for _ in range(3):
        x = rng.randint(0, WIDTH - 200)
        draw.ellipse((x, 60 + rng.randint(0, 60), x + 180, 120 + rng.randint(0, 60)), fill=(245, 248, 252))
    motif = _MOTIFS.get(category, _houses)
    alt = motif(draw, rng)
    return image, alt


def _tree(draw: ImageDraw.ImageDraw, x: int, y: int, size: int) -> None:
    draw.rectangle((x - size // 10, y, x + size // 10, y + size), fill=(110, 80, 50))
    draw.ellipse((x - size // 2, y - size // 2, x + size // 2, y + size // 3), fill=(60, 130, 70))


def _green(draw: ImageDraw.ImageDraw, rng: random.Random) -> str:
    for i in range(5):
        _tree(draw, 120 + i * 170, 300 - rng.randint(0, 40), 140)
    for i in range(14):
        x = 40 + i * 62
        draw.ellipse((x, 470, x + 30, 500), fill=rng.choice([(220, 80, 120), (250, 200, 60), (150, 90, 200)]))
    return "Tekening van een rij bomen en bloemen langs een straat."


def _play(draw: ImageDraw.ImageDraw, rng: random.Random) -> str:
    draw.line((250, 200, 200, 430), fill=(200, 60, 50), width=12)
    draw.line((250, 200, 300, 430), fill=(200, 60, 50), width=12)
    draw.line((250, 200, 550, 200), fill=(200, 60, 50), width=12)
    draw.line((550, 200, 500, 430), fill=(200, 60, 50), width=12)
    draw.line((550, 200, 600, 430), fill=(200, 60, 50), width=12)
    draw.line((380, 200, 380, 360), fill=(60, 60, 60), width=4)
    draw.rectangle((355, 360, 405, 372), fill=(60, 60, 60))
    draw.rectangle((640, 420, 860, 440), fill=(130, 90, 60))
    draw.rectangle((650, 440, 665, 480), fill=(130, 90, 60))
    draw.rectangle((835, 440, 850, 480), fill=(130, 90, 60))
    return "Tekening van een schommel en een bankje in een speeltuin."


def _meet(draw: ImageDraw.ImageDraw, rng: random.Random) -> str:
    draw.rectangle((260, 330, 640, 350), fill=(140, 95, 60))
    draw.rectangle((280, 350, 300, 430), fill=(140, 95, 60))
    draw.rectangle((600, 350, 620, 430), fill=(140, 95, 60))
    for i in range(6):
        x = 220 + i * 80
        color = rng.choice([(40, 90, 160), (190, 80, 60), (70, 140, 90), (200, 150, 40)])
        draw.ellipse((x, 220, x + 44, 264), fill=(230, 190, 160))
        draw.rectangle((x + 2, 264, x + 42, 340), fill=color)
    return "Tekening van buren rond een lange tafel."


def _sport(draw: ImageDraw.ImageDraw, rng: random.Random) -> str:
    draw.rectangle((100, 250, 110, 420), fill=(240, 240, 240))
    draw.rectangle((100, 250, 300, 260), fill=(240, 240, 240))
    draw.rectangle((290, 250, 300, 420), fill=(240, 240, 240))
    draw.ellipse((520, 380, 580, 440), fill=(250, 250, 250), outline=(30, 30, 30), width=4)
    draw.line((0, 500, WIDTH, 500), fill=(245, 245, 245), width=6)
    return "Tekening van een voetbaldoel en een bal op een grasveld."


def _culture(draw: ImageDraw.ImageDraw, rng: random.Random) -> str:
    draw.rectangle((200, 260, 700, 400), fill=(120, 60, 90))
    draw.rectangle((180, 240, 720, 262), fill=(90, 40, 70))
    for i, color in enumerate([(230, 70, 70), (250, 190, 50), (60, 140, 200)]):
        draw.polygon([(260 + i * 150, 200), (300 + i * 150, 140), (340 + i * 150, 200)], fill=color)
    return "Tekening van een klein podium met vlaggetjes."


def _safety(draw: ImageDraw.ImageDraw, rng: random.Random) -> str:
    draw.rectangle((0, 420, WIDTH, 520), fill=STREET)
    for i in range(4):
        x = 120 + i * 220
        draw.rectangle((x, 150, x + 12, 420), fill=(60, 60, 60))
        draw.ellipse((x - 24, 130, x + 36, 170), fill=(255, 230, 120))
    return "Tekening van een straat met lantaarnpalen."


def _sustainable(draw: ImageDraw.ImageDraw, rng: random.Random) -> str:
    _houses(draw, rng)
    for i in range(3):
        x = 130 + i * 260
        draw.polygon([(x, 250), (x + 140, 250), (x + 120, 290), (x - 20, 290)], fill=(40, 60, 110))
    return "Tekening van huizen met zonnepanelen op het dak."


def _houses(draw: ImageDraw.ImageDraw, rng: random.Random) -> str:
    for i in range(3):
        x = 100 + i * 260
        color = rng.choice([(180, 80, 60), (200, 150, 110), (150, 110, 90)])
        draw.rectangle((x, 280, x + 180, 430), fill=color)
        draw.polygon([(x - 10, 280), (x + 90, 200), (x + 190, 280)], fill=(90, 50, 40))
        draw.rectangle((x + 70, 360, x + 110, 430), fill=(60, 40, 30))
    return "Tekening van een rij huizen in de buurt."


_MOTIFS = {
    "groen": _green,
    "spelen": _play,
    "ontmoeten": _meet,
    "sport": _sport,
    "cultuur": _culture,
    "veiligheid": _safety,
    "duurzaam": _sustainable,
}
