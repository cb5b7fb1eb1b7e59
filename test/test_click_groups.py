"""engine.click_groups: the Processing algorithm's grouping of click points, without QGIS."""
from avalanche_iseg_plugin.engine.click_groups import NEGATIVE_REACH_PX, click_sign, group_clicks


def pixel_of(x, y):
    """A 1 m raster with its top-left corner at (0, 0): (row, col)."""
    return -y, x


def test_click_sign_words_and_numbers():
    assert [click_sign(v) for v in (True, False, 2, 0.0, -1, " YES ", "neg", "background", "avalanche", "", "x")] == \
        [True, False, True, False, False, True, False, False, True, None, None]


def test_by_field_groups_in_order_of_first_point_positives_first():
    points = [(1, -1, False, "B"), (2, -2, True, "A"), (3, -3, True, "B"), (4, -4, False, "A"),
              (5, -5, True, "A"), (6, -6, False, "C")]
    groups, without_positive = group_clicks(points, by_field=True, pixel_of=pixel_of)
    assert groups == [("B", [(3.0, -3.0, True), (1.0, -1.0, False)]),
                      ("A", [(2.0, -2.0, True), (5.0, -5.0, True), (4.0, -4.0, False)])]
    assert without_positive == ["C"]


def test_without_field_every_positive_is_an_avalanche_refined_by_near_negatives():
    near, far = NEGATIVE_REACH_PX - 1, NEGATIVE_REACH_PX
    points = [(1000, -1000, True, 1), (1000 + near, -1000 - near, False, 2), (1000 + far, -1000, False, 3),
              (3000, -3000, True, 4)]
    groups, without_positive = group_clicks(points, by_field=False, pixel_of=pixel_of)
    assert groups == [(1, [(1000.0, -1000.0, True), (1000.0 + near, -1000.0 - near, False)]),
                      (4, [(3000.0, -3000.0, True)])]
    assert without_positive == []
    assert group_clicks([(1, -1, False, 1)], by_field=False, pixel_of=pixel_of) == ([], [])
