"""The box plots' titles name F1 once ("Clinical F1", not "Clinical F1 F1"); issue 18 item 9."""

from radimpress.results.report import METRIC_TITLES, box_plot_svg


def test_clinical_plot_title_says_f1_once() -> None:
    svg = box_plot_svg(METRIC_TITLES["clinical"], [("select", [0.2, 0.5, 0.9])])
    assert ">Clinical F1</text>" in svg
    assert "F1 F1" not in svg


def test_rouge_plot_title_still_says_f1() -> None:
    svg = box_plot_svg("ROUGE-L", [("lead", [0.1, 0.3])])
    assert ">ROUGE-L F1</text>" in svg
