import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from pyg_negdiff.data.interactions import DataValidationError
from pyg_negdiff.data.io import (
    default_data_root,
    load_builtin,
    load_csv,
    load_dataset,
    load_lightgcn,
    load_pairs,
    load_recbole,
    sniff_format,
)

DATA_ROOT = Path(
    os.environ.get("PYG_NEGDIFF_DATA", Path(__file__).parents[1] / ".." / "shared" / "data")
)


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fn(*args, **kwargs)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def pairs_of(data, part="train"):
    return data.parts[part].t().tolist()


# ---------------------------------------------------------------- LightGCN lists
def test_lightgcn_parts_users_without_items_and_empty_lines(tmp_path):
    train = write(tmp_path / "train.txt", "0 1 2\n\n1 0\n3\n")  # user 3: a line with no items
    test = write(tmp_path / "test.txt", "0 4\n1 2 3\n")
    data = load_lightgcn(train, test)
    assert (data.num_users, data.num_items) == (4, 5)  # max id + 1 over both files
    assert pairs_of(data) == [[0, 1], [0, 2], [1, 0]]
    assert pairs_of(data, "test") == [[0, 4], [1, 2], [1, 3]]
    assert data.name == tmp_path.name and data.notes == []
    assert data.user_degree().tolist() == [2, 1, 0, 0]


def test_lightgcn_duplicates_dropped_and_cold_test_users_noted(tmp_path):
    train = write(tmp_path / "train.txt", "0 1 2 1 1\n1 0\n")
    test = write(tmp_path / "test.txt", "0 3\n2 1\n5 0 1\n")
    with pytest.warns(UserWarning) as record:
        data = load_lightgcn(train, test, name="toy")
    messages = [str(w.message) for w in record]
    assert any("dropped 2 duplicate" in m and "'train'" in m for m in messages)
    assert any("2 users have no training interaction" in m and "2, 5" in m for m in messages)
    assert pairs_of(data) == [[0, 1], [0, 2], [1, 0]]  # first occurrences, file order
    assert data.parts["test"].size(1) == 4  # cold users are kept
    assert len(data.notes) == 2


def test_lightgcn_val_file_and_explicit_sizes(tmp_path):
    train = write(tmp_path / "train.txt", "0 1\n1 0\n")
    val = write(tmp_path / "val.txt", "0 2\n")
    data = load_lightgcn(train, val_path=val, num_items=10)
    assert list(data.parts) == ["train", "val"] and data.num_items == 10
    with pytest.raises(DataValidationError, match="num_users=1"):
        load_lightgcn(train, num_users=1)


@pytest.mark.parametrize(
    "text,line,what",
    [
        ("0 1 2\n1 x 3\n", 2, "'x' is not an integer"),
        ("0 1\n\n\n2 1.5\n", 4, "'1.5' is not an integer"),
        ("0 1\n1 2\n2 -3\n", 3, "negative id -3"),
    ],
)
def test_lightgcn_malformed(tmp_path, text, line, what):
    path = write(tmp_path / "bad_train.txt", text)
    with pytest.raises(DataValidationError) as err:
        load_lightgcn(path)
    message = str(err.value)
    assert "bad_train.txt" in message and f"line {line}" in message and what in message


def test_lightgcn_malformed_test_file_is_named(tmp_path):
    train = write(tmp_path / "train.txt", "0 1\n")
    test = write(tmp_path / "test.txt", "0 1\n0 -1\n")
    with pytest.raises(DataValidationError, match=r"test\.txt, line 2: negative id"):
        load_lightgcn(train, test)


def test_empty_training_file(tmp_path):
    path = write(tmp_path / "train.txt", "\n0\n")
    with pytest.raises(DataValidationError, match="train.txt: no interactions"):
        load_lightgcn(path)


# -------------------------------------------------------------------- pair lists
def test_pairs_and_overlap_note(tmp_path):
    train = write(tmp_path / "train.txt", "0 0\n0 1\n1\t2\n\n")
    test = write(tmp_path / "test.txt", "0 1\n1 3\n")
    with pytest.warns(UserWarning, match="1 pairs also appear in 'train'"):
        data = load_pairs(train, test)
    assert (data.num_users, data.num_items) == (2, 4)
    assert pairs_of(data) == [[0, 0], [0, 1], [1, 2]]


@pytest.mark.parametrize(
    "text,line,what",
    [
        ("0 0\n0 1 5\n", 2, "expected 2 columns"),
        ("0 0\n\n3\n", 3, "expected 2 columns"),
        ("0 0\n1 b\n", 2, "'b' is not an integer"),
        ("-1 0\n", 1, "negative id -1"),
    ],
)
def test_pairs_malformed(tmp_path, text, line, what):
    path = write(tmp_path / "pairs.txt", text)
    with pytest.raises(DataValidationError) as err:
        load_pairs(path)
    message = str(err.value)
    assert "pairs.txt" in message and f"line {line}" in message and what in message


# ----------------------------------------------------------------- RecBole atomic
INTER = (
    "item_id:token\tuser_id:token\trating:float\ttimestamp:float\n"
    "i9\tu2\t5\t30\n"
    "i1\tu10\t3\t10\n"
    "i1\tu2\t4\t20\n"
    "\n"
    "i9\tu2\t4\t40\n"
)  # a repeated pair


def test_recbole_columns_by_name_remap_filter_and_times(tmp_path):
    path = write(tmp_path / "toy.inter", INTER)
    with pytest.warns(UserWarning) as record:
        data = load_recbole(path)
    messages = " | ".join(str(w.message) for w in record)
    assert "kept the 3 of 4 interactions with rating >= 4" in messages
    assert "dropped 1 duplicate" in messages
    assert data.user_ids.tolist() == ["u2"] and data.item_ids.tolist() == ["i1", "i9"]
    assert pairs_of(data) == [[0, 1], [0, 0]]
    assert data.timestamps["train"].tolist() == [30.0, 20.0]  # aligned, first occurrence kept
    assert data.timestamps["train"].dtype == torch.float64
    everything = quiet(load_recbole, path, min_rating=None)
    assert (everything.num_users, everything.num_items) == (2, 2)
    assert everything.train.size(1) == 3


def test_recbole_integer_tokens_sort_numerically_and_implicit_files(tmp_path):
    path = write(tmp_path / "n.inter", "user_id:token\titem_id:token\n10\t2\n9\t100\n")
    with pytest.warns(UserWarning, match="no 'rating' column: min_rating=4 ignored"):
        data = load_recbole(path)
    assert data.user_ids.tolist() == [9, 10] and data.item_ids.tolist() == [2, 100]
    assert data.name == "n"
    assert pairs_of(data) == [[1, 0], [0, 1]] and not data.has_timestamps


@pytest.mark.parametrize(
    "text,line,what",
    [
        ("user_id:token\trating:float\nu\t4\n", 1, "no column 'item_id'"),
        ("user_id:token\titem_id:token\trating:float\nu\ti\t4\nu\ti\n", 3, "expected 3 columns"),
        (
            "user_id:token\titem_id:token\trating:float\nu\ti\t4\nu\tj\tgood\n",
            3,
            "'good', not a number",
        ),
    ],
)
def test_recbole_malformed(tmp_path, text, line, what):
    path = write(tmp_path / "bad.inter", text)
    with pytest.raises(DataValidationError) as err:
        quiet(load_recbole, path)
    message = str(err.value)
    assert "bad.inter" in message and f"line {line}" in message and what in message


# ----------------------------------------------------------------------------- CSV
def test_csv_token_ids_that_look_alike_stay_distinct(tmp_path):
    path = write(tmp_path / "r.csv", "user,item\n7,1\n007,1\n10,2\n")
    data = load_csv(path)
    assert data.name == "r" and data.num_users == 3
    assert data.user_ids.tolist() == ["007", "10", "7"]  # not all read as numbers
    with pytest.raises(ValueError, match="needs --rating-col"):
        load_csv(path, min_rating=4)


def test_csv_quotes_dates_and_separator(tmp_path):
    path = write(
        tmp_path / "r.csv", 'who;what;when\n"a;1";x;2024-01-02\nb;x;2024-01-01\n\nb;y;2024-01-03\n'
    )
    data = load_csv(path, user_col="who", item_col="what", time_col="when", sep=";")
    assert data.user_ids.tolist() == ["a;1", "b"] and data.item_ids.tolist() == ["x", "y"]
    assert pairs_of(data) == [[0, 0], [1, 0], [1, 1]]
    day = 86400.0
    assert data.timestamps["train"].tolist() == [19724 * day, 19723 * day, 19725 * day]


@pytest.mark.parametrize(
    "text,kwargs,line,what",
    [
        ("user,product\n1,2\n", {}, 1, "no item column"),
        ("\nuser,product\n1,2\n", {}, 2, "no item column"),  # the header moved down a line
        ("user,item\n1,2\n3,4,5\n", {}, 3, "expected 2 columns"),
        (
            "user,item,t\n1,2,5\n3,4,soon\n",
            {"time_col": "t"},
            3,
            "'soon', not a number or an ISO date",
        ),
        (
            "user,item,r\n1,2,5\n\n3,4,?\n",
            {"rating_col": "r", "min_rating": 4},
            4,
            "'?', not a number",
        ),
        ("user,item,r\n1,2,5\n", {"rating_col": "rank", "min_rating": 4}, 1, "no column 'rank'"),
        ("user,item\n1,2\n,4\n", {}, 3, "empty user id"),
    ],
)
def test_csv_malformed(tmp_path, text, kwargs, line, what):
    path = write(tmp_path / "bad.csv", text)
    with pytest.raises(DataValidationError) as err:
        quiet(load_csv, path, **kwargs)
    message = str(err.value)
    assert "bad.csv" in message and f"line {line}" in message and what in message


# ---------------------------------------------------------------------- dispatcher
def test_load_dataset_dispatch(tmp_path):
    lists = tmp_path / "lists"
    lists.mkdir()
    write(lists / "train.txt", "0 1 2\n1 0\n")
    write(lists / "test.txt", "1 2\n")
    write(lists / "valid.txt", "0 0\n")
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    write(pairs / "train.txt", "0 1\n0 2\n1 0\n")
    rec = tmp_path / "rec"
    rec.mkdir()
    write(rec / "rec.inter", "user_id:token\titem_id:token\n1\t1\n")
    csv_file = write(tmp_path / "ratings.csv", "user,item\na,b\n")

    assert sniff_format(lists / "train.txt") == "lightgcn"
    assert sniff_format(pairs / "train.txt") == "pairs"
    data = load_dataset(lists)
    assert list(data.parts) == ["train", "val", "test"] and data.name == "lists"
    assert pairs_of(load_dataset(pairs)) == [[0, 1], [0, 2], [1, 0]]
    assert pairs_of(load_dataset(lists, format="lightgcn", name="x")) == pairs_of(data)
    assert load_dataset(rec).train.size(1) == 1  # the only .inter of the folder
    assert load_dataset(rec / "rec.inter").num_users == 1
    assert load_dataset(csv_file).user_ids.tolist() == ["a"]
    assert list(load_dataset(pairs / "train.txt").parts) == ["train"]  # a single file
    with pytest.raises(DataValidationError, match="expected 2 columns"):
        load_dataset(lists, format="pairs")
    with pytest.raises(FileNotFoundError):
        load_dataset(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="unknown format"):
        load_dataset(lists, format="parquet")


def test_builtin_missing_names_the_env_var(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="PYG_NEGDIFF_DATA"):
        load_builtin("coat", root=tmp_path)
    with pytest.raises(ValueError, match="unknown built-in"):
        load_builtin("netflix", root=tmp_path)
    monkeypatch.setenv("PYG_NEGDIFF_DATA", str(tmp_path))
    assert default_data_root() == tmp_path.resolve()
    (tmp_path / "coat").mkdir()
    write(tmp_path / "coat" / "train.txt", "0 1\n")
    write(tmp_path / "coat" / "test.txt", "0 0\n")
    data = load_builtin("coat")  # from the environment variable
    assert data.name == "coat" and data.parts["test"].size(1) == 1


def test_large_file_is_parsed_vectorized(tmp_path):
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, 1000, size=(20000, 2))
    path = tmp_path / "big.txt"
    np.savetxt(path, pairs, fmt="%d")
    data = quiet(load_pairs, path)
    keys = np.unique(pairs[:, 0] * 1000 + pairs[:, 1])
    assert data.train.size(1) == keys.size
    assert set((data.train[0] * data.num_items + data.train[1]).tolist()) == set(
        (pairs[:, 0] * data.num_items + pairs[:, 1]).tolist()
    )


# ------------------------------------------------------------------------ real data
def builtin(name, **kwargs):
    if not (DATA_ROOT / name).is_dir():
        pytest.skip(f"{name} not found under {DATA_ROOT}")
    return quiet(load_builtin, name, root=DATA_ROOT, **kwargs)


def test_coat_published_sizes():
    data = builtin("coat")
    assert data.train.size(1) == 1905 and data.parts["test"].size(1) == 840
    assert data.num_users == 290


def test_yahoo_published_sizes():
    data = builtin("yahoo-r3")
    assert data.train.size(1) == 125077 and data.parts["test"].size(1) == 4671
    assert data.num_items == 1000


def test_ml1m_published_sizes():
    data = builtin("ml-1m")
    assert (data.num_users, data.num_items) == (6040, 3706)
    assert data.train.size(1) + data.parts["test"].size(1) > 1_000_000


def test_ml100k_published_sizes():
    data = builtin("ml-100k", min_rating=None)
    assert (data.num_users, data.num_items, data.train.size(1)) == (943, 1682, 100000)
    assert data.timestamps["train"].numel() == 100000
    implicit = builtin("ml-100k")  # ratings >= 4, the default of the built-in
    assert implicit.train.size(1) == 55375
    assert any("rating >= 4" in n for n in implicit.notes)
