"""The NSMC loader: the real files' quirks, Korpora's folder read with no network, clear errors.

Every file here is written by the test itself; the real NSMC files are never read.
"""

import sys
import types
import urllib.error
import urllib.request

import pandas as pd
import pytest

from course_utils import data

HEADER = "id\tdocument\tlabel\n"
# Lines as they appear in the real files: a review that contains a quote is stored with two levels of
# CSV quoting (quotes around it, inner quotes doubled, twice over); an empty review; and the same review
# twice under different ids.
QUOTED = '9037756\t"""스토리, 연출 다 별로. 감독은 """"내가 영화 경력이 몇년인데"""" 같은 마인드"""\t0\n'
TYPED = '스토리, 연출 다 별로. 감독은 "내가 영화 경력이 몇년인데" 같은 마인드'  # what its writer typed
ROWS = ("9976970\t아 더빙.. 진짜 짜증나네요 목소리\t0\n"
        + QUOTED
        + "5000000\t\t1\n"
        + "3819312\t재밌어요\t1\n"
        + "3819313\t재밌어요\t1\n"
        + "10265843\t너무재밓었다그래서보는것을추천한다\t0\n")


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to reach GitHub, or to use Korpora at all, fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("the loader tried to use the network")

    class Korpora:
        fetch = load = staticmethod(refuse)

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setitem(sys.modules, "Korpora", types.SimpleNamespace(Korpora=Korpora))
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)


@pytest.fixture
def korpora_root(tmp_path):
    write(tmp_path / "nsmc" / "ratings_train.txt", HEADER + ROWS)
    write(tmp_path / "nsmc" / "ratings_test.txt", HEADER + QUOTED + "42\t최고의 영화\t1\n")
    return tmp_path


def test_read_keeps_every_row_decodes_both_levels_of_quoting_and_keeps_empty_reviews(tmp_path):
    frame = data.read_nsmc_file(write(tmp_path / "ratings_train.txt", HEADER + ROWS))
    assert list(frame.columns) == ["id", "document", "label"]
    assert len(frame) == 6
    assert frame["document"][1] == TYPED  # both levels of quoting removed, the writer's own quotes kept
    assert frame["document"][2] == ""  # an empty review stays an empty string, not NaN
    assert not frame.isna().any().any()
    assert frame["label"].dtype.kind == "i" and set(frame["label"]) == {0, 1}
    assert frame["id"].tolist()[0] == "9976970"


def test_a_default_csv_reader_gets_these_files_wrong(tmp_path):
    """What a default read does: every row comes back, but one level of quoting stays and "" becomes NaN."""
    path = write(tmp_path / "ratings_train.txt", HEADER + ROWS)
    naive = pd.read_csv(path, sep="\t")
    careful = data.read_nsmc_file(path)
    assert len(naive) == len(careful) == 6  # no line is swallowed
    assert naive["document"].isna().sum() == 1  # the empty review became NaN
    assert naive["document"][1] == '"' + TYPED.replace('"', '""') + '"'  # one level of quoting left
    assert careful["document"][1] == TYPED


@pytest.mark.parametrize(("stored", "typed"), [
    ('"""영화 """"ㅈ같다."""""""', '영화 "ㅈ같다."'),  # real lines: two levels, the writer's quotes inside
    ('"""""""결혼은 현실이에요"""" 성현아"""', '"결혼은 현실이에요" 성현아'),
    ('"""""""이정진,님 정말 비운의 배우"""', '"이정진,님 정말 비운의 배우'),  # an unbalanced quote the writer typed
    ('"""""""Man should know his limitation"""""""', '"Man should know his limitation"'),  # quoted once more: kept
    ("아 더빙.. 진짜 짜증나네요 목소리", "아 더빙.. 진짜 짜증나네요 목소리"),  # most reviews: no quoting at all
    ("", ""),
    ('"반쪽 따옴표', '"반쪽 따옴표'),  # not a well-formed quoted field: returned as it is
])
def test_unquote_removes_the_two_levels_of_quoting_and_nothing_else(stored, typed):
    assert data.unquote_nsmc(stored) == typed


def test_duplicates_are_kept(tmp_path):
    frame = data.read_nsmc_file(write(tmp_path / "ratings_train.txt", HEADER + ROWS))
    assert frame["document"].duplicated().sum() == 1  # cleaning is the chapter's job, not the reader's


@pytest.mark.parametrize("text", ["9976970\t아 더빙\t0\n", "id,document,label\n1,좋아요,1\n"],
                         ids=["no header", "commas"])
def test_a_wrong_header_is_a_clear_error(tmp_path, text):
    with pytest.raises(ValueError, match="id<TAB>document<TAB>label"):
        data.read_nsmc_file(write(tmp_path / "ratings_train.txt", text))


@pytest.mark.parametrize("label", ["2", "positive", ""])
def test_a_bad_label_is_a_clear_error(tmp_path, label):
    path = write(tmp_path / "ratings_train.txt", HEADER + "1\t좋아요\t1\n" + f"2\t별로\t{label}\n")
    with pytest.raises(ValueError, match=r"data row 2: label .* is not 0 or 1"):
        data.read_nsmc_file(path)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="No NSMC file"):
        data.read_nsmc_file(tmp_path / "ratings_train.txt")


def test_load_from_a_korpora_root_makes_no_network_call(korpora_root, no_network):
    nsmc = data.load_nsmc(root_dir=korpora_root)
    assert set(nsmc) == {"train", "test"}
    assert len(nsmc["train"]) == 6 and len(nsmc["test"]) == 2
    for frame in nsmc.values():
        assert not frame.isna().any().any()
        assert set(frame["label"]) <= {0, 1}


def test_an_explicit_root_wins_over_the_fixtures_and_course_data_dir(korpora_root, no_network, monkeypatch,
                                                                    tmp_path_factory):
    monkeypatch.setenv("COURSE_SMOKE", "1")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path_factory.mktemp("elsewhere")))
    assert len(data.load_nsmc(root_dir=korpora_root)["train"]) == 6


def test_smoke_mode_reads_the_fixtures(no_network, monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "1")
    nsmc = data.load_nsmc()
    assert (len(nsmc["train"]), len(nsmc["test"])) == (64, 24)
    assert (nsmc["train"]["document"] == "").any() or (nsmc["test"]["document"] == "").any()


def test_data_dir_layout(korpora_root, no_network, monkeypatch):
    nsmc = data.load_nsmc(data_dir=korpora_root)  # <data_dir>/nsmc/ratings_*.txt
    assert len(nsmc["train"]) == 6
    monkeypatch.setenv("COURSE_DATA_DIR", str(korpora_root))
    assert len(data.load_nsmc()["test"]) == 2


def test_missing_files_in_a_data_dir_are_a_clear_error(tmp_path, no_network):
    write(tmp_path / "nsmc" / "ratings_train.txt", HEADER + ROWS)
    with pytest.raises(FileNotFoundError, match=r"lacks \['ratings_test.txt'\]"):
        data.load_nsmc(data_dir=tmp_path)


def test_missing_files_offline_say_how_to_fix_it(tmp_path, monkeypatch):
    """An empty Korpora root and no network: a clear ConnectionError, and Korpora is never started."""
    def unreachable(*args, **kwargs):
        raise urllib.error.URLError("no route to host")

    class Korpora:
        @staticmethod
        def fetch(*args, **kwargs):
            raise AssertionError("Korpora must not be started when GitHub is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    monkeypatch.setitem(sys.modules, "Korpora", types.SimpleNamespace(Korpora=Korpora))
    with pytest.raises(ConnectionError, match="ratings_train.txt and ratings_test.txt"):
        data.load_nsmc(root_dir=tmp_path)


def test_missing_files_online_hand_over_to_korpora(tmp_path, monkeypatch):
    """Full mode with the files missing: Korpora.fetch('nsmc', root_dir=...) downloads them."""
    calls = []

    class Korpora:
        @staticmethod
        def fetch(name, root_dir):
            calls.append((name, root_dir))
            write(tmp_path / "nsmc" / "ratings_train.txt", HEADER + ROWS)
            write(tmp_path / "nsmc" / "ratings_test.txt", HEADER + ROWS)

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: None)
    monkeypatch.setitem(sys.modules, "Korpora", types.SimpleNamespace(Korpora=Korpora))
    nsmc = data.load_nsmc(root_dir=tmp_path)
    assert calls == [("nsmc", str(tmp_path))]
    assert len(nsmc["test"]) == 6


def test_seeded_subset_of_a_dataframe(korpora_root, no_network):
    train = data.load_nsmc(root_dir=korpora_root)["train"]
    a, b = data.seeded_subset(train, 4, seed=0), data.seeded_subset(train, 4, seed=0)
    assert a.equals(b) and len(a) == 4 and list(a.index) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="min\\(7, len\\(data\\)\\)"):
        data.seeded_subset(train, 7)
