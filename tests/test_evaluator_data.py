"""Data: both key spellings, the stratified split, disjoint splits, clear errors, download."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from evaluator import data as data_mod
from evaluator.data import (
    DataError,
    default_root,
    download_cifar10,
    download_cifar100,
    find_dataset_dir,
    install_archive,
    load_dataset,
    read_batch,
    stratified_split,
)
from tests.evaluator_fixtures import image_ids, write_cifar10, write_cifar100


@pytest.fixture(autouse=True)
def _fresh_cache():
    data_mod._load_cached.cache_clear()
    yield
    data_mod._load_cached.cache_clear()


@pytest.mark.parametrize("str_keys", [False, True])
def test_reads_bytes_and_str_keys(tmp_path, str_keys):
    write_cifar10(tmp_path, train_per_class=10, test_per_class=2, str_keys=str_keys)
    ds = load_dataset("cifar10", tmp_path, validation_size=20)
    assert ds.train.images.shape == (80, 3, 32, 32) and ds.train.images.dtype == np.uint8
    assert len(ds.val) == 20 and len(ds.test) == 20 and ds.num_classes == 10
    # Stamped ids 0..99 are all there, once, across train + validation.
    ids = np.concatenate([image_ids(ds.train.images), image_ids(ds.val.images)])
    assert sorted(ids.tolist()) == list(range(100))


def test_row_layout_is_planes_then_rows(tmp_path):
    folder = write_cifar10(tmp_path, train_per_class=1, test_per_class=1)
    raw = pickle.loads((folder / "data_batch_1").read_bytes(), encoding="bytes")
    split = read_batch(folder / "data_batch_1")
    row = raw[b"data"][0]
    assert split.images[0, 1, 0, 5] == row[1024 + 5]  # G plane, row 0, column 5
    assert split.images[0, 2, 3, 7] == row[2048 + 3 * 32 + 7]


def test_validation_and_test_never_overlap_training(tmp_path):
    write_cifar10(tmp_path, train_per_class=30, test_per_class=5)
    ds = load_dataset("cifar10", tmp_path, validation_size=50, split_seed=3)
    train, val, test = (set(image_ids(s.images).tolist()) for s in (ds.train, ds.val, ds.test))
    assert not train & val and not train & test and not val & test
    assert not set(ds.train_index) & set(ds.val_index)
    assert len(train) + len(val) == 300


def test_split_is_stratified_and_deterministic():
    labels = np.repeat(np.arange(10), 50)[np.random.default_rng(1).permutation(500)]
    train_a, val_a = stratified_split(labels, 55, seed=7)
    train_b, val_b = stratified_split(labels, 55, seed=7)
    _, val_c = stratified_split(labels, 55, seed=8)
    assert np.array_equal(val_a, val_b) and np.array_equal(train_a, train_b)
    assert not np.array_equal(val_a, val_c)
    counts = np.bincount(labels[val_a], minlength=10)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 55
    assert len(train_a) + len(val_a) == 500


def test_cifar100_uses_fine_labels(tmp_path):
    write_cifar100(tmp_path, train_per_class=3)
    ds = load_dataset("cifar100", tmp_path, validation_size=100)
    assert ds.num_classes == 100 and len(ds.train) == 200
    assert sorted(ds.val.labels.tolist()) == list(range(100))  # one per class


def test_cifar100_splits_never_overlap(tmp_path):
    write_cifar100(tmp_path, train_per_class=5, test_per_class=2)
    ds = load_dataset("cifar100", tmp_path, validation_size=200, split_seed=1)
    train, val, test = (set(image_ids(s.images).tolist()) for s in (ds.train, ds.val, ds.test))
    assert (len(train), len(val), len(test)) == (300, 200, 200)
    assert not train & val and not train & test and not val & test
    assert np.bincount(ds.val.labels, minlength=100).tolist() == [2] * 100


def test_missing_cifar100_names_its_download(tmp_path):
    with pytest.raises(DataError, match="actsearch data cifar100"):
        load_dataset("cifar100", tmp_path)


def test_missing_data_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTSEARCH_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataError) as info:
        load_dataset("cifar10")
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "nowhere") in message
    assert "ACTSEARCH_DATA" in message and "actsearch data cifar10" in message


def test_data_root_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTSEARCH_DATA", str(tmp_path / "env"))
    assert default_root() == tmp_path / "env"
    folder = write_cifar10(tmp_path / "env", train_per_class=1, test_per_class=1)
    assert find_dataset_dir("cifar10") == folder
    other = write_cifar10(tmp_path / "cfg", train_per_class=1, test_per_class=1)
    assert find_dataset_dir("cifar10", tmp_path / "cfg") == other  # config wins
    assert find_dataset_dir("cifar10", other) == other  # the folder itself works too
    monkeypatch.delenv("ACTSEARCH_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_root() == tmp_path / "cache" / "actsearch"


@pytest.mark.parametrize("damage", ["truncate", "garbage", "not_a_dict", "wrong_shape"])
def test_corrupt_file_names_the_file(tmp_path, damage):
    folder = write_cifar10(tmp_path, train_per_class=5, test_per_class=1)
    victim = folder / "data_batch_3"
    if damage == "truncate":
        victim.write_bytes(victim.read_bytes()[:1000])
    elif damage == "garbage":
        victim.write_bytes(os.urandom(4000))
    elif damage == "not_a_dict":
        victim.write_bytes(pickle.dumps([1, 2, 3]))
    else:
        victim.write_bytes(pickle.dumps({b"data": np.zeros((4, 100), np.uint8),
                                         b"labels": [0, 1, 2, 3]}))
    with pytest.raises(DataError, match="data_batch_3"):
        load_dataset("cifar10", tmp_path, validation_size=10)


def test_pickle_cannot_run_code(tmp_path):
    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    folder = write_cifar10(tmp_path, train_per_class=2, test_per_class=1)
    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": Boom()}))
    with pytest.raises(DataError, match="data_batch_1"):
        read_batch(folder / "data_batch_1")
    assert not (tmp_path / "pwned").exists()


def _archive(tmp_path, name: str = "cifar10"):
    if name == "cifar10":
        src = write_cifar10(tmp_path / "src", train_per_class=2, test_per_class=1)
    else:
        src = write_cifar100(tmp_path / "src", train_per_class=2, test_per_class=1)
    archive = tmp_path / f"{name}-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname=src.name)
    return archive, hashlib.md5(archive.read_bytes()).hexdigest()


def test_install_archive_verifies_and_extracts(tmp_path):
    archive, md5 = _archive(tmp_path)
    folder = install_archive(archive, tmp_path / "dest", md5)
    assert folder == tmp_path / "dest" / "cifar-10-batches-py"
    assert len(load_dataset("cifar10", tmp_path / "dest", validation_size=10).train) == 10


def test_install_archive_rejects_wrong_md5(tmp_path):
    archive, _ = _archive(tmp_path)
    with pytest.raises(DataError, match="MD5"):
        install_archive(archive, tmp_path / "dest", "0" * 32)
    assert not (tmp_path / "dest").exists()


def test_install_archive_rejects_escaping_members(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(DataError, match="unsafe"):
        install_archive(archive, tmp_path / "dest", None)
    assert not (tmp_path / "escaped.txt").exists()


def test_download_through_a_local_url(tmp_path):
    archive, md5 = _archive(tmp_path)
    folder = download_cifar10(tmp_path / "dl", url=archive.as_uri(), md5=md5)
    assert (folder / "data_batch_5").is_file()
    assert not list((tmp_path / "dl").glob("*.tar.gz"))  # the partial download is removed


def test_download_offline_is_one_clear_line(tmp_path):
    with pytest.raises(DataError) as info:
        download_cifar10(tmp_path, url="http://127.0.0.1:9/cifar-10-python.tar.gz", timeout_s=5)
    assert "\n" not in str(info.value) and "cannot download" in str(info.value)
    assert not list(tmp_path.glob("*.tar.gz"))


def test_download_cifar100_through_a_local_url(tmp_path):
    archive, md5 = _archive(tmp_path, "cifar100")
    folder = download_cifar100(tmp_path / "dl", url=archive.as_uri(), md5=md5)
    assert folder == tmp_path / "dl" / "cifar-100-python" and (folder / "train").is_file()
    assert load_dataset("cifar100", tmp_path / "dl", validation_size=100).num_classes == 100
    with pytest.raises(DataError, match="MD5"):
        download_cifar100(tmp_path / "bad", url=archive.as_uri(), md5="0" * 32)


def test_published_archives():
    import inspect

    defaults = inspect.signature(download_cifar100).parameters
    assert defaults["url"].default == "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    assert defaults["md5"].default == "eb9058c3a382ffc7106e4002c42a8d85"
    assert inspect.signature(download_cifar10).parameters["md5"].default == data_mod.CIFAR10_MD5


def test_download_cifar100_offline_names_its_folder(tmp_path):
    with pytest.raises(DataError, match="cifar-100-python folder") as info:
        download_cifar100(tmp_path, url="http://127.0.0.1:9/cifar-100-python.tar.gz",
                          timeout_s=5)
    assert "\n" not in str(info.value)
