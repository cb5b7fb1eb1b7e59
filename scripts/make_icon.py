"""Draws avalanche_iseg_plugin/icon.png: a white avalanche fan below a ridge on a blue tile.

Run once (offscreen is fine): QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/make_icon.py
"""
import sys
from pathlib import Path

from qgis.PyQt.QtCore import QPointF, QRectF, Qt
from qgis.PyQt.QtGui import QColor, QGuiApplication, QImage, QPainter, QPainterPath, QPen, QPolygonF

OUT = Path(__file__).resolve().parents[1] / "avalanche_iseg_plugin" / "icon.png"


def draw(size: int = 64) -> QImage:
    image = QImage(size, size, QImage.Format_ARGB32)
    image.fill(Qt.transparent)
    s = size / 64.0
    p = QPainter(image)
    p.setRenderHint(QPainter.Antialiasing)
    p.setPen(Qt.NoPen)
    p.setBrush(QColor("#1f5fa8"))
    p.drawRoundedRect(QRectF(1 * s, 1 * s, 62 * s, 62 * s), 10 * s, 10 * s)
    # mountain ridge
    p.setBrush(QColor("#cfe0f5"))
    p.drawPolygon(QPolygonF([QPointF(4 * s, 40 * s), QPointF(24 * s, 9 * s), QPointF(34 * s, 22 * s),
                             QPointF(42 * s, 13 * s), QPointF(60 * s, 40 * s)]))
    # avalanche: release zone at the top, track, and a lobed deposit fan
    fan = QPainterPath(QPointF(26 * s, 14 * s))
    fan.cubicTo(QPointF(31 * s, 22 * s), QPointF(27 * s, 30 * s), QPointF(36 * s, 38 * s))
    fan.cubicTo(QPointF(46 * s, 44 * s), QPointF(48 * s, 54 * s), QPointF(38 * s, 57 * s))
    fan.cubicTo(QPointF(32 * s, 60 * s), QPointF(24 * s, 58 * s), QPointF(20 * s, 54 * s))
    fan.cubicTo(QPointF(12 * s, 50 * s), QPointF(18 * s, 42 * s), QPointF(22 * s, 36 * s))
    fan.cubicTo(QPointF(24 * s, 28 * s), QPointF(21 * s, 21 * s), QPointF(26 * s, 14 * s))
    p.setBrush(QColor("white"))
    p.drawPath(fan)
    # a green (positive) click on the deposit
    p.setBrush(QColor("#2ca02c"))
    p.setPen(QPen(QColor("#1f5fa8"), 1.5 * s))
    p.drawEllipse(QPointF(32 * s, 48 * s), 5 * s, 5 * s)
    p.end()
    return image


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv)  # noqa: F841 - QPainter needs it
    OUT.parent.mkdir(parents=True, exist_ok=True)
    if not draw().save(str(OUT)):
        print(f"make_icon: could not write {OUT}", file=sys.stderr)
        return 1
    print(OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
