"""The reproduction report as a reader gets it: every experiment and claim, figures embedded,
text escaped, nothing fetched from elsewhere (parsed with the standard library's HTML parser)."""

from __future__ import annotations

import base64
import io
import json

import pytest

from advgeom.report import html as html_mod
from advgeom.report import render_html, reproduction_report, write_report
from advgeom.report.model import Figure
from advgeom.runs.claims import format_value
from advgeom.runs.registry import PAPERS

TRICKY = 'Mean of <b>uniform</b> draws is 1/2 & "close" | <script>alert(1)</script>'


def test_every_experiment_and_claim_appears(reproduced, read_page):
    root, outcomes, folder = reproduced
    page = read_page(folder / "index.html")
    for o in outcomes:
        assert o["experiment"] in page.text
        results = json.loads((root / o["run_id"] / "run.json").read_text())
        assert results["status"] in page.text
        for c in o["claims"]:
            assert c["id"] in page.text
            assert " ".join(c["statement"].split()) in page.text
            assert format_value(c["measured"]) in page.text
    for paper in PAPERS.values():  # every paper has a section, with or without experiments
        assert paper.title in page.text
    assert "No experiment of this paper is registered" in page.text


def test_summary_comes_first_with_counts(reproduced, read_page):
    _, outcomes, folder = reproduced
    page = read_page(folder / "index.html")
    claims = [c for o in outcomes for c in o["claims"]]
    agree = sum(c["agrees"] is True for c in claims)
    unmeasured = sum(c["agrees"] is None for c in claims)
    headings = [attrs.get("id") for attrs in page.all("section")]
    assert headings[0] == "summary" and headings[-1] == "environment"
    assert f"{agree} reproduced" in page.text and f"{unmeasured} not measured" in page.text
    assert "1 not completed" in page.text  # test.broken


def test_no_external_references(reproduced, read_page):
    _, _, folder = reproduced
    text = (folder / "index.html").read_text(encoding="utf-8")
    page = read_page(folder / "index.html")
    for tag, attrs in page.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed"), tag
        for name in ("src", "href", "srcset", "action", "data"):
            value = attrs.get(name)
            assert value is None or value.startswith(("data:", "#")), (tag, name, value)
    style = "".join(page.chunks)
    assert "url(" not in style and "@import" not in style
    assert "http://" not in text.replace('xmlns="http://www.w3.org', "")


def test_figures_are_embedded_from_the_run(reproduced, read_page):
    root, outcomes, folder = reproduced
    images = read_page(folder / "index.html").all("img")
    done = [o for o in outcomes if o["status"] == "done"]
    assert len(images) == len(done)
    for o, img in zip(done, images, strict=True):
        mime, data = img["src"].removeprefix("data:").split(";base64,")
        fmt = "svg" if mime == "image/svg+xml" else "png"
        saved = (root / o["run_id"] / "figures" / f"values.{fmt}").read_bytes()
        assert base64.b64decode(data) == saved
        other = root / o["run_id"] / "figures" / f"values.{'png' if fmt == 'svg' else 'svg'}"
        assert len(saved) <= other.stat().st_size  # the smaller of the two formats
        assert o["experiment"] in img["alt"]


def test_text_from_runs_is_escaped(reproduced, read_page):
    _, _, folder = reproduced
    text = (folder / "index.html").read_text(encoding="utf-8")
    page = read_page(folder / "index.html")
    assert TRICKY in page.text  # shown literally...
    assert "<script>" not in text and "<b>uniform" not in text  # ...never as markup
    assert "Throwaway test.alpha & <friends>" in page.text


def test_settings_that_differ_from_the_paper(reproduced, read_page):
    _, _, folder = reproduced
    page = read_page(folder / "index.html")
    assert "Settings that differ from the paper" in page.text
    assert "points 6 3" in page.text  # field, paper default, smoke value


def test_failed_experiment_shows_its_error(reproduced, read_page):
    _, outcomes, folder = reproduced
    broken = next(o for o in outcomes if o["experiment"] == "test.broken")
    assert broken["status"] == "failed"
    page = read_page(folder / "index.html")
    assert "broken on purpose" in page.text and "status failed" in page.text


def test_environment_and_versions_at_the_end(reproduced, read_page):
    root, outcomes, folder = reproduced
    env = json.loads((root / outcomes[0]["run_id"] / "environment.json").read_text())
    page = read_page(folder / "index.html")
    tail = page.text[page.text.index("Environment and versions") :]
    assert f"torch {env['packages']['torch']}" in tail
    assert f"python {env['python']}" in tail


def test_markdown_links_figures_by_relative_path(reproduced):
    root, outcomes, folder = reproduced
    md = (folder / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# advgeom reproduction (smoke scale)")
    assert md.index("## Summary") < md.index(f"## {PAPERS['gilmer'].title}")
    links = [line.split("](", 1)[1].rstrip(")") for line in md.splitlines() if "![" in line]
    assert len(links) == sum(o["status"] == "done" for o in outcomes)
    for link in links:
        assert not link.startswith("/") and (folder / link).resolve().is_file(), link
    assert "\\<script>" in md and " <script>" not in md  # escaped for Markdown
    for o in outcomes:
        assert f"`{o['experiment']}`" in md


def test_rewriting_is_atomic(reproduced, monkeypatch, tmp_path):
    root, outcomes, folder = reproduced
    report = reproduction_report(root, outcomes, scale="smoke", seed=0)
    target = tmp_path / "report"
    write_report(report, target)
    before = (target / "index.html").read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr("advgeom.report.write.render_markdown", broken)
    with pytest.raises(RuntimeError):
        write_report(report, target)
    assert (target / "index.html").read_bytes() == before  # the old report, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # no temporary left


def test_png_is_shown_at_its_physical_size(tmp_path):
    from advgeom.plotting import new_figure

    fig, _ = new_figure(1, width=4, height=3)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=150)
    png = buffer.getvalue()
    assert html_mod._png_css_width(png) == 4 * 96  # 600 px at 150 dpi -> 384 CSS px
    assert html_mod._png_css_width(b"not a png") is None
    (tmp_path / "f.png").write_bytes(png)
    figure = Figure("f", {"png": tmp_path / "f.png"}, "a caption")
    assert 'width="384"' in html_mod._figure(figure, 1)


def test_render_html_of_an_empty_reproduction():
    from advgeom.report import Report

    text = render_html(Report(title="empty <run>", facts=[], sections=[], environment={}))
    assert "empty &lt;run&gt;" in text and "0 reproduced" in text


def test_full_smoke_reproduction_report(smoke_reproduction, tmp_path, read_page):
    """Every registered experiment, at smoke scale, appears in the report with all its claims."""
    root, experiments, outcomes = smoke_reproduction
    assert all(o.status == "done" for o in outcomes), [o.error for o in outcomes]
    report = reproduction_report(root, [o.__dict__ for o in outcomes], scale="smoke", seed=0)
    page = read_page(write_report(report, tmp_path / "report"))
    for exp, o in zip(experiments, outcomes, strict=True):
        assert exp.id in page.text and exp.title in page.text
        for c in o.claims:
            assert c["id"] in page.text and " ".join(c["statement"].split()) in page.text
    for _tag, attrs in page.tags:
        for name in ("src", "href"):
            assert attrs.get(name) is None or attrs[name].startswith(("data:", "#"))
