"""Group reserved (bpf/reserved.bpf.c): the Reserved THP quota, reserved_thp_charge(nr_hpages)
(0 or -ENOMEM: quota exhausted) and reserved_thp_uncharge(nr_hpages). Reserved THP series only.
"""

from __future__ import annotations

from typing import NamedTuple

from thpwatch.emitter import Emitter
from thpwatch.kernel import facts
from thpwatch.metric import Metric
from thpwatch.probes.errors import result_name
from thpwatch.probes.group import CEnum, Decoding, Known, ProbeGroup, ProbeSpec, function_probe
from thpwatch.probes.maps import CounterArray, Counts, RawMaps

CHARGE, UNCHARGE = facts.FN_RESERVED_THP_CHARGE, facts.FN_RESERVED_THP_UNCHARGE
# what a charge_counts entry and an uncharge_counts index count
FIELD = CEnum("RESERVED", ("calls", "hpages"))


class ChargeKey(NamedTuple):  # struct charge_key
    ret: int  # 0 or -errno
    field: int  # FIELD index


CHARGE_COUNTS = Counts("charge_counts", ChargeKey, "=iI")
UNCHARGE_COUNTS = CounterArray("uncharge_counts")

CHARGES = Metric(
    "thpwatch_reserved_thp_charge_total",
    "counter",
    "reserved_thp_charge() calls by result (ok; ENOMEM = quota exhausted).",
    ("result",),
)
CHARGED_HPAGES = Metric(
    "thpwatch_reserved_thp_charge_hpages_total",
    "counter",
    "PMD-sized huge pages asked of reserved_thp_charge(), by result.",
    ("result",),
)
UNCHARGED_HPAGES = Metric(
    "thpwatch_reserved_thp_uncharge_hpages_total",
    "counter",
    "PMD-sized huge pages given back by reserved_thp_uncharge().",
)
_BY_FIELD = {FIELD.index("calls"): CHARGES.name, FIELD.index("hpages"): CHARGED_HPAGES.name}


def emit(raw: RawMaps, d: Decoding, out: Emitter) -> None:
    charges = CHARGE_COUNTS.of(raw)
    if charges is not None and CHARGE in d.attached:
        for k, n in sorted(charges.items()):
            out.add(_BY_FIELD[k.field], n, result=result_name(k.ret))
    uncharges = UNCHARGE_COUNTS.of(raw)
    if uncharges is not None and UNCHARGE in d.attached:
        out.add(UNCHARGED_HPAGES.name, uncharges[FIELD.index("hpages")])


GROUP = ProbeGroup(
    "reserved",
    (
        function_probe(CHARGE, "reserved"),
        ProbeSpec(UNCHARGE, "reserved", "function", (UNCHARGE,)),  # entry only
    ),
    maps=(CHARGE_COUNTS, UNCHARGE_COUNTS),
    metrics=(CHARGES, CHARGED_HPAGES, UNCHARGED_HPAGES),
    known=(
        *(
            Known(m.name, CHARGE, (("result", ("ok", "ENOMEM")),))
            for m in (CHARGES, CHARGED_HPAGES)
        ),
        Known(UNCHARGED_HPAGES.name, UNCHARGE),
    ),
    enums=(FIELD,),
    emit=emit,
)
