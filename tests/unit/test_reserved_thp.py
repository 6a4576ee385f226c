from __future__ import annotations

import pytest
from fixturetree import PATCHED, STOCK, tree

from thpwatch.kernel.errors import KernelFileError
from thpwatch.kernel.reserved_thp import ReservedThpPool, read_reserved_thp


def test_patched_pool_exact():
    pool = read_reserved_thp(PATCHED)
    assert pool == ReservedThpPool(
        total_hpages=64, free_hpages=24, used_hpages=40, hpage_bytes=2 << 20
    )
    assert (pool.total_bytes, pool.free_bytes, pool.used_bytes) == (64 << 21, 24 << 21, 40 << 21)


def test_stock_kernel_has_no_pool():
    assert read_reserved_thp(STOCK) is None


@pytest.mark.parametrize(
    "case, file, reason",
    [
        ("reserved-garbage", "total_hpages", "line 1: expected a decimal number, got 'sixty-four'"),
        ("reserved-truncated", "used_hpages", "truncated"),
        ("reserved-empty", "free_hpages", "empty file"),
    ],
)
def test_malformed_names_file(tmp_path, case, file, reason):
    with pytest.raises(KernelFileError, match=reason) as e:
        read_reserved_thp(tree(tmp_path, case))
    assert e.value.path.endswith(f"sys/kernel/mm/reserved_thp/{file}")


def test_missing_file_in_present_dir(tmp_path):
    root = tree(tmp_path)
    (root / "sys/kernel/mm/reserved_thp/used_hpages").unlink()
    with pytest.raises(KernelFileError, match="used_hpages: missing"):
        read_reserved_thp(root)


def test_rereads_until_used_is_stable(tmp_path, monkeypatch):
    """A charge between reading used and free must not produce an inconsistent pool."""
    root = tree(tmp_path)
    d = root / "sys/kernel/mm/reserved_thp"
    import thpwatch.kernel.reserved_thp as mod

    reads = []
    real = mod.read_decimal

    def racing(path):
        value = real(path)
        reads.append(path.name)
        if reads == ["used_hpages"]:  # a madvise charges 8 hpages right after the first read
            (d / "used_hpages").write_text("48\n")
            (d / "free_hpages").write_text("16\n")
        return value

    monkeypatch.setattr(mod, "read_decimal", racing)
    pool = read_reserved_thp(root)
    assert (pool.used_hpages, pool.free_hpages, pool.total_hpages) == (48, 16, 64)
