"""The report's "Where the best prompt fails" section, on a real search."""
from xml.etree import ElementTree

import pytest
from psafter import real_search

import promptsearch as ps
from promptsearch.report.svg import esc


@pytest.fixture(scope="module")
def real(tmp_path_factory, smollm):
    return real_search(tmp_path_factory.mktemp("failures"), smollm, trials=3)


def test_report_shows_the_worst_dev_examples_and_the_confusion_matrix(real, tmp_path):
    _db, store, _record = real
    page = ps.write_report(store, "after", tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<h2>Where the best prompt fails</h2>" in page
    found = ps.trial_examples(store, "after", wrong=True)
    assert found.shown
    section = page.split("<h2>Where the best prompt fails</h2>")[1].split("<h2>")[0]
    for o in found.shown:
        assert f"<td>{esc(o.inputs['review'])}</td><td>{esc(o.expected[0])}</td><td>{esc(o.prediction)}</td>" in section
    assert "<b>cold</b>" not in page  # the data's HTML is escaped
    assert f"lost points on {len(found.shown)} of 5 dev examples" in section
    confusion = section.split("Confusion matrix")[1]
    table = ElementTree.fromstring(confusion[confusion.index("<table>"):confusion.index("</table>") + 8]
                                   .replace("class=num", 'class="num"'))
    counts = [int(td.text) for td in table.iter("td")]
    assert sum(counts) == 5
