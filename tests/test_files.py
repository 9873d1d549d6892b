"""core.files.write_atomic when the file system refuses: a full disk, no permission, a symlink loop.
Each gives a WriteError whose sentence names no path, and no temporary file stays behind."""

import errno
import os

import pytest

from core import files


def refuse(code: int):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code), "/srv/secret/place")
    return fail


@pytest.mark.parametrize("where", ["fsync", "replace"])
def test_a_full_disk_leaves_nothing_behind_and_the_old_file_intact(tmp_path, monkeypatch, where):
    target = tmp_path / "kept.bin"
    target.write_bytes(b"old")
    monkeypatch.setattr(files.os, where, refuse(errno.ENOSPC))
    with pytest.raises(files.WriteError) as error:
        files.write_atomic(target, b"new" * 1000, what="The checkpoint 'kept'")
    assert str(error.value) == "The checkpoint 'kept' could not be saved: the server's disk is full."
    assert error.value.errno == errno.ENOSPC and isinstance(error.value, ValueError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.bin"] and target.read_bytes() == b"old"


def test_a_full_disk_while_a_writer_function_writes(tmp_path):
    def write_then_fail(f):
        f.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(files.WriteError, match="disk is full"):
        files.write_atomic(tmp_path / "map.npz", write_then_fail, what="The computed map")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS])
def test_a_folder_the_server_may_not_write_to(tmp_path, monkeypatch, code):
    monkeypatch.setattr(files.tempfile, "mkstemp", refuse(code))
    with pytest.raises(files.WriteError) as error:
        files.write_atomic(tmp_path / "x.json", b"{}")
    assert str(error.value) == "The file could not be saved: the server may not write to its folder."
    assert "/srv" not in str(error.value) and str(tmp_path) not in str(error.value)


def test_a_symlink_loop_where_the_folder_should_be(tmp_path):
    (tmp_path / "loop").symlink_to("loop")
    with pytest.raises(files.WriteError) as error:
        files.write_atomic(tmp_path / "loop" / "x.json", b"{}", what="The measured curve")
    assert str(error.value).startswith("The measured curve could not be saved (")
    assert str(tmp_path) not in str(error.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loop"]


def test_a_taken_name_is_still_a_file_exists_error(tmp_path):
    (tmp_path / "mine.bin").write_bytes(b"first")
    with pytest.raises(FileExistsError, match="^Taken.$"):
        files.write_atomic(tmp_path / "mine.bin", b"second", overwrite=False, exists_message="Taken.")
    assert (tmp_path / "mine.bin").read_bytes() == b"first" and len(list(tmp_path.iterdir())) == 1
