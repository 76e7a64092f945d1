"""Files as public recommendation code ships them: each loads as meant, or fails with one clear line."""

import urllib.error
import warnings
from pathlib import Path

import pytest
import torch
from torch_geometric.data import HeteroData

from pyg_negdiff.cli import main
from pyg_negdiff.data import from_hetero
from pyg_negdiff.data.interactions import DataValidationError
from pyg_negdiff.data.io import load_csv, load_dataset, load_pairs, load_recbole
from pyg_negdiff.data.layout import AmbiguousFormatError, MalformedLineError, detect_layout
from pyg_negdiff.data.prepare import load, prepare_data
from pyg_negdiff.data.pyg_datasets import DatasetUnavailableError

BOM = "\ufeff"


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fn(*args, **kwargs)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def pairs_of(data, part="train"):
    return sorted(map(tuple, data.parts[part].t().tolist()))


# Users 0..3 with their items; every line "u i 1" (SELFRec and many PyTorch repos).
UI1 = [(0, 5), (0, 7), (1, 5), (1, 2), (2, 9), (3, 7), (3, 2), (2, 4)]
UI1_TEXT = "".join(f"{u} {i} 1\n" for u, i in UI1)


# ------------------------------------------------------------------- u i 1
def test_uiw_with_two_malformed_leading_lines(tmp_path):
    path = write(tmp_path / "train.txt", "0\n0 1\n" + UI1_TEXT)
    layout = detect_layout(path)
    assert (
        layout.format == "uiw"
        and "always 1" in layout.reason
        and "2 of the 10 lines" in layout.reason
    )
    with pytest.raises(MalformedLineError) as err:
        load_dataset(path)
    message = str(err.value)
    assert "train.txt, line 1: expected 3 columns (user item weight), got 1: '0'" in message
    assert "--on-bad-line skip" in message and "\n" not in message
    with pytest.warns(UserWarning, match=r"skipped 2 malformed lines of train.txt \(lines 1, 2;"):
        data = load_dataset(path, on_bad_line="skip")
    assert pairs_of(data) == sorted(UI1)  # item 1 is no one's positive, item 9 only user 2's
    assert (data.num_users, data.num_items) == (4, 10)
    assert not hasattr(data, "weights")  # the constant 1 carries nothing
    assert data.loaded_as.startswith("train.txt as uiw: 3 columns, users repeat")


def test_uiw_whole_file_decides_not_the_first_lines(tmp_path):
    # The first 3 lines alone read as adjacency lists; the rest of the file says otherwise.
    path = write(tmp_path / "train.txt", "0 1 2\n1 0 4\n2 3 1\n" + UI1_TEXT * 2)
    assert detect_layout(path).format == "uiw"


# ------------------------------------------------------------------- u i t
def test_uit_reads_times_not_item_ids(tmp_path):
    lines = [(u, i, 881250949 + 3600 * k) for k, (u, i) in enumerate(UI1)]
    path = write(tmp_path / "train.txt", "".join(f"{u}\t{i}\t{t}\n" for u, i, t in lines))
    data = quiet(load_dataset, path)
    assert (data.num_users, data.num_items) == (4, 10)  # not 881,276,150 items
    assert pairs_of(data) == sorted(UI1)
    assert data.timestamps["train"].tolist() == [float(t) for _, _, t in lines]
    assert "Unix times (1997-12-04 .. 1997-12-04)" in data.loaded_as
    split = quiet(prepare_data, str(path), shift="temporal")  # the times drive the split
    later = torch.cat([split.timestamps[p] for p in split.eval_parts])
    assert split.timestamps["train"].max() < later.min()


def test_uirt_ratings_kept_and_thresholded(tmp_path):
    rows = [(0, 3, 5, 881250949), (0, 1, 2, 881250950), (1, 3, 4, 881250951), (1, 2, 1, 881250952)]
    path = write(tmp_path / "u.data", "".join("\t".join(map(str, r)) + "\n" for r in rows))
    data = quiet(load_dataset, path)
    assert data.loaded_as.startswith("u.data as uirt")
    assert data.weights["train"].tolist() == [5.0, 2.0, 4.0, 1.0]
    kept = quiet(load_pairs, path, min_rating=4)
    assert pairs_of(kept) == [(0, 3), (1, 3)] and kept.timestamps["train"].tolist() == [
        881250949.0,
        881250951.0,
    ]


# --------------------------------------------------------------- ambiguity
@pytest.mark.parametrize(
    "text",
    [
        "0 4 7\n1 5 2\n2 6 3\n",  # one line per user, 3 ids each: lists of 2 items, or (u i count)?
        "0 1 2 3 4\n0 5\n0 1 2\n1 2 3 4 5 6\n",  # users repeat, but no common width
    ],
)
def test_ambiguous_files_are_refused_naming_format(tmp_path, text):
    path = write(tmp_path / "train.txt", text)
    with pytest.raises(AmbiguousFormatError, match="cannot tell the format.*pass --format"):
        load_dataset(path)
    assert quiet(load_dataset, path, format="lightgcn").train.size(1) > 0  # the way out works


# ------------------------------------------------------------------------ BOM
def test_byte_order_mark_is_dropped_by_every_loader(tmp_path):
    pairs = write(tmp_path / "pairs" / "train.txt", BOM + "0 1\n1 0\n")
    assert pairs_of(load_dataset(pairs)) == [(0, 1), (1, 0)]
    lists = write(tmp_path / "lists.txt", BOM + "0 1 2\n1 0\n")
    assert pairs_of(load_dataset(lists)) == [(0, 1), (0, 2), (1, 0)]
    csv_file = write(tmp_path / "r.csv", BOM + "user,item\na,b\n")
    assert load_csv(csv_file).user_ids.tolist() == ["a"]
    inter = write(tmp_path / "r.inter", BOM + "user_id:token\titem_id:token\nu\ti\n")
    assert quiet(load_recbole, inter).item_ids.tolist() == ["i"]


# ------------------------------------------------------------------------ CSV
MOVIELENS_CSV = (
    "userId,movieId,rating,timestamp\n"
    "1,31,2.5,1260759144\n1,1029,3.0,1260759179\n2,31,4.0,835355493\n"
    "2,10,5.0,835355681\n3,1029,4.5,1298861675\n3,10,1.0,1298861680\n"
)


def test_csv_movielens_header_found_by_name(tmp_path):
    path = write(tmp_path / "ratings.csv", MOVIELENS_CSV)
    data = quiet(load_dataset, path)
    assert (data.num_users, data.num_items, data.train.size(1)) == (3, 3, 6)
    assert data.item_ids.tolist() == [10, 31, 1029]
    assert data.timestamps["train"][0].item() == 1260759144.0
    assert (
        "user column 'userId' (found by name), item column 'movieId' (found by name)"
        in data.loaded_as
    )
    kept = quiet(load_dataset, path, min_rating=4)
    assert kept.train.size(1) == 3


def test_csv_cli_options_and_temporal_split(tmp_path, capsys):
    path = write(
        tmp_path / "log.tsv",
        "who\twhat\twhen\tstars\n"
        + "".join(f"u{k % 4}\ti{k % 7}\t{1600000000 + k}\t{k % 5}\n" for k in range(40)),
    )
    rc = main(
        [
            "data",
            "inspect",
            "--data",
            str(path),
            "--user-col",
            "who",
            "--item-col",
            "what",
            "--time-col",
            "when",
            "--rating-col",
            "stars",
            "--min-rating",
            "1",
            "--shift",
            "temporal",
        ]
    )
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert (
        "format: log.tsv as csv: user column 'who', item column 'what', rating column 'stars', "
        "time column 'when'" in err
    )
    assert "time range" in out and "test" in out
    rc = main(["data", "inspect", "--data", str(path)])
    assert (
        rc == 2
        and "no user column among who, what, when, stars; name it with --user-col"
        in capsys.readouterr().err
    )


def test_csv_options_refused_for_whitespace_files(tmp_path, capsys):
    path = write(tmp_path / "train.txt", "0 1\n1 0\n")
    assert main(["data", "inspect", "--data", str(path), "--user-col", "u"]) == 2
    assert "--user-col (user_col=) only apply to CSV files" in capsys.readouterr().err


def test_csv_bad_rows_skipped_with_a_count(tmp_path):
    path = write(tmp_path / "r.csv", "user,item\na,b\na,b,c\nb,c\n")
    with pytest.raises(MalformedLineError, match="line 3: expected 2 columns"):
        load_csv(path)
    with pytest.warns(UserWarning, match="skipped 1 malformed lines of r.csv"):
        assert load_csv(path, on_bad_line="skip").train.size(1) == 2


# ------------------------------------------------------------------ huge ids
def test_huge_ids_are_remapped_not_allocated(tmp_path):
    big = 12_800_000_000
    train = write(tmp_path / "data" / "train.txt", f"{big} 7\n{big} 3000000\n5 7\n")
    write(tmp_path / "data" / "test.txt", f"5 3000000\n{big + 1} 7\n")
    with pytest.warns(UserWarning) as record:
        data = load_dataset(train.parent)
    assert (data.num_users, data.num_items) == (3, 2)
    assert data.user_ids.tolist() == [5, big, big + 1] and data.item_ids.tolist() == [7, 3000000]
    assert pairs_of(data) == [(0, 0), (1, 0), (1, 1)] and pairs_of(data, "test") == [(0, 1), (2, 0)]
    messages = " ".join(str(w.message) for w in record)
    assert "user ids reach 12,800,000,001 but only 3 distinct ones appear" in messages
    assert "item ids reach 3,000,000 but only 2 distinct ones appear" in messages
    small = quiet(load_dataset, write(tmp_path / "small.txt", "0 999\n1 5\n"))
    assert small.num_items == 1000 and not hasattr(small, "item_ids")  # below the threshold


# ---------------------------------------------------------------- OOD folders
def ood_folder(root: Path) -> Path:
    users = range(12)
    write(root / "train.txt", "".join(f"{u} {(u + k) % 10}\n" for u in users for k in range(4)))
    write(root / "valid.txt", "".join(f"{u} {(u + 4) % 10}\n" for u in users))
    write(root / "test_iid.txt", "".join(f"{u} {(u + 5) % 10}\n" for u in users))
    write(root / "test.txt", "".join(f"{u} {(u + 6) % 10}\n" for u in users[:9]))
    write(root / "README.txt", "not data")
    return root


def test_ood_folder_parts(tmp_path):
    data = quiet(load_dataset, ood_folder(tmp_path / "ood"))
    assert list(data.parts) == ["train", "val", "test", "test_ood"]
    sizes = {p: data.parts[p].size(1) for p in data.parts}
    assert sizes == {"train": 48, "val": 12, "test": 12, "test_ood": 9}
    assert data.part_files == (
        "train <- train.txt, val <- valid.txt, test <- test_iid.txt, "
        "test_ood <- test.txt (OOD: test_iid.txt is the IID test); "
        "not read: README.txt"
    )
    (tmp_path / "ood" / "test.txt").rename(tmp_path / "ood" / "test_ood.txt")
    assert quiet(load_dataset, tmp_path / "ood").parts["test_ood"].size(1) == 9
    write(tmp_path / "ood" / "valid_iid.txt", "0 1\n")
    with pytest.raises(DataValidationError, match="valid.txt and valid_iid.txt could each be"):
        load_dataset(tmp_path / "ood")


def test_ood_folder_shift_none_reports_iid_and_ood_side_by_side(tmp_path, capsys):
    folder = ood_folder(tmp_path / "ood")
    out_json = tmp_path / "run.json"
    rc = main(
        [
            "train",
            "--data",
            str(folder),
            "--shift",
            "none",
            "--epochs",
            "1",
            "--dim",
            "8",
            "--layers",
            "1",
            "--batch-size",
            "64",
            "--no-progress",
            "--out",
            str(out_json),
        ]
    )
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert (
        "parts: train <- train.txt, val <- valid.txt, test <- test_iid.txt, test_ood <- test.txt"
        in err
    )
    rows = [
        line.split()[0] for line in out.splitlines() if line.split()[:1] in (["test"], ["test_ood"])
    ]
    assert rows[-2:] == ["test", "test_ood"]


# -------------------------------------------------------------- PyG datasets
def write_amazon_book(raw: Path) -> None:
    write(raw / "user_list.txt", "org_id remap_id\n" + "".join(f"U{k} {k}\n" for k in range(3)))
    write(raw / "item_list.txt", "org_id remap_id\n" + "".join(f"B{k} {k}\n" for k in range(5)))
    write(raw / "train.txt", "0 1 2\n1 0 3\n2 4\n")
    write(raw / "test.txt", "0 3\n1 4\n")


def write_movielens_100k(raw: Path) -> None:
    genres = "|".join(["0"] * 19)
    write(
        raw / "u.item",
        "".join(f"{m}|Movie {m}|01-Jan-1995||http://x|{genres}\n" for m in (1, 2, 3, 4)),
    )
    write(raw / "u.user", "1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|32067\n")
    write(
        raw / "u1.base",
        "1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t3\t4\t878542960\n"
        "3\t4\t4\t876893119\n3\t1\t2\t889751712\n",
    )
    write(raw / "u1.test", "1\t3\t4\t887431883\n2\t1\t1\t875693118\n3\t2\t5\t878542960\n")


def write_movielens_1m(raw: Path) -> None:
    write(
        raw / "movies.dat",
        "1::Toy Story (1995)::Animation|Comedy\n2::Jumanji (1995)::Adventure\n"
        "3::Heat (1995)::Action\n",
    )
    write(raw / "users.dat", "1::F::1::10::48067\n2::M::56::16::70072\n")
    write(
        raw / "ratings.dat",
        "1::1::5::978300760\n1::2::3::978302109\n2::3::4::978301968\n" "2::1::4::978300275\n",
    )


def test_pyg_datasets_from_raw_files_in_pyg_layout(tmp_path):
    pytest.importorskip("pandas")  # PyG's processing reads the raw files with it
    write_amazon_book(tmp_path / "amazon-book" / "raw")
    write_movielens_100k(tmp_path / "movielens-100k" / "raw")
    write_movielens_1m(tmp_path / "movielens-1m" / "raw")
    book = quiet(load, "amazon-book", root=tmp_path)
    assert (book.num_users, book.num_items, book.train.size(1), book.parts["test"].size(1)) == (
        3,
        5,
        5,
        2,
    )
    assert (tmp_path / "amazon-book" / "processed" / "data.pt").is_file()  # PyG's processed layout
    ml100k = quiet(load, "movielens-100k", root=tmp_path)  # ratings >= 4 kept
    assert (ml100k.num_users, ml100k.num_items) == (3, 4)
    assert pairs_of(ml100k) == [(0, 0), (1, 2), (2, 3)] and pairs_of(ml100k, "test") == [
        (0, 2),
        (2, 1),
    ]
    ml1m = quiet(load, "movielens-1m", root=tmp_path, min_rating=None)
    assert ml1m.train.size(1) == 4 and ml1m.timestamps["train"][0].item() == 978300760.0


def test_pyg_dataset_offline_without_raw_files_fails_in_one_line(tmp_path, monkeypatch):
    pytest.importorskip("pandas")
    from torch_geometric.datasets import AmazonBook

    def offline(self):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(AmazonBook, "download", offline)
    with pytest.raises(DatasetUnavailableError) as err:
        load("amazon-book", root=tmp_path)
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / "amazon-book" / "raw") in message
    assert "put user_list.txt, item_list.txt, train.txt, test.txt there" in message


# --------------------------------------------------------------- from_hetero
def test_from_hetero_duplicates_noted_bad_indices_refused():
    hetero = HeteroData()
    hetero["user"].num_nodes, hetero["item"].num_nodes = 2, 3
    store = hetero["user", "buys", "item"]
    store.edge_index = torch.tensor([[0, 0, 1, 0], [1, 1, 2, 2]])
    with pytest.warns(UserWarning, match=r"'buys', 'item'\) edge_index: dropped 1 duplicate"):
        data = from_hetero(hetero)
    assert pairs_of(data) == [(0, 1), (0, 2), (1, 2)]
    store.edge_index = torch.tensor([[0.0, 1.0], [1.0, 2.0]])
    with pytest.raises(
        DataValidationError, match=r"\('user', 'buys', 'item'\) edge_index has dtype torch.float32"
    ):
        from_hetero(hetero)
    store.edge_index = torch.tensor([[0, 1, 2]])
    with pytest.raises(
        DataValidationError, match=r"'item'\) edge_index must have shape \[2, num_edges\].*\[1, 3\]"
    ):
        from_hetero(hetero)
