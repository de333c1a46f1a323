"""The table, interval plot and heat maps drawn from a snapshot's data (pure functions)."""

from evaluation.leaderboards.presentation import heat_maps, interval_plot, table_rows
from evaluation.tests.factories import THREE_MODELS, board_data


def test_table_rows_keep_the_order_and_the_interval_widths():
    rows = table_rows(board_data(THREE_MODELS + [("newcomer", 990.0, 900.0, 1100.0, None, 4)]))
    assert [(r.position, r.model, r.rank, r.provisional) for r in rows] == [
        (1, "atlas-7b-chat", 1, False),
        (2, "borealis-3b", 2, False),
        (3, "cirrus-1b", 3, False),
        (4, "newcomer", None, True),
    ]
    assert (rows[0].minus, rows[0].plus) == (29.4, 29.8)


def test_the_plot_maps_every_interval_onto_one_axis():
    rows = table_rows(board_data(THREE_MODELS))
    plot = interval_plot(rows, width=760, label_width=210)
    # The axis runs over whole ticks around the widest interval: 850 to 1150 in steps of 50.
    assert [t.label for t in plot.ticks] == ["850", "900", "950", "1000", "1050", "1100", "1150"]
    assert plot.ticks[0].x == plot.left and plot.ticks[-1].x == plot.right
    scale = (plot.right - plot.left) / 300
    top = plot.rows[0]
    assert top.x_rating == round(plot.left + (1080.4 - 850) * scale, 1)
    assert top.x_lower < top.x_rating < top.x_upper
    assert [r.y for r in plot.rows] == sorted(r.y for r in plot.rows)
    assert all(plot.top < r.y < plot.bottom for r in plot.rows)


def test_long_names_are_shortened_in_the_plot_only():
    long_name = "a-model-with-a-really-long-descriptive-name-v2"
    rows = table_rows(board_data([(long_name, 1000.0, 990.0, 1010.0, 1, 50), ("b", 1000.0, 990.0, 1010.0, 1, 50)]))
    plot = interval_plot(rows)
    assert plot.rows[0].label == long_name[:27] + "…"
    assert plot.rows[0].model == long_name


def test_an_empty_leaderboard_has_an_empty_plot():
    assert interval_plot([]).rows == []


def test_heat_maps_colour_each_cell_by_its_legend_step():
    data = board_data(THREE_MODELS)
    data["win_rate"][0][1] = 0.95
    data["win_rate"][1][0] = 0.05
    data["win_rate"][0][2] = None  # never met
    data["battles"] = [[0, 200, 1], [200, 0, 40], [1, 40, 0]]
    win_rate, predicted, battles = heat_maps(data)

    assert [m.key for m in (win_rate, predicted, battles)] == ["win_rate", "predicted", "battles"]
    first = win_rate.rows[0].cells
    assert (first[0].text, first[0].css) == ("–", "heat-none")
    assert (first[1].text, first[1].css) == ("95", "heat-d9")
    assert (first[2].text, first[2].css) == ("–", "heat-none")
    assert (win_rate.rows[1].cells[0].text, win_rate.rows[1].cells[0].css) == ("5", "heat-d0")
    assert len(win_rate.legend) == 10
    assert win_rate.legend[0].label == "0–10 %" and win_rate.legend[-1].label == "90–100 %"

    # Counts: five steps up to the largest pair (200), step 0 for none.
    cells = battles.rows[0].cells
    assert [(c.text, c.css) for c in cells] == [("–", "heat-none"), ("200", "heat-s5"), ("1", "heat-s1")]
    assert battles.rows[1].cells[2].css == "heat-s1"  # 40 <= 40
    assert [e.label for e in battles.legend] == ["0", "1–40", "41–80", "81–120", "121–160", "161–200"]


def test_a_legend_never_repeats_a_step_for_small_counts():
    data = board_data(THREE_MODELS[:2])
    data["battles"] = [[0, 2], [2, 0]]
    battles = heat_maps(data)[2]
    assert [e.label for e in battles.legend] == ["0", "1", "2"]
    assert battles.rows[0].cells[1].css in {e.css for e in battles.legend}
