"""A small world for the lot and container pages: a resin lot made into control boards, the
boards installed in devices of one device lot, two devices packed in a case and shipped to two
hospitals, and one board taken out again in a repair. Captured through the real path."""

from __future__ import annotations

from dataclasses import dataclass

from medtrace.lib import udi
from medtrace.masterdata.models import Party

from . import factories as f


@dataclass
class Story:
    w: f.World
    resin: str  # the resin lot class
    boards: list[str]
    devices: list[str]
    case: str
    device_lot: str  # the devices' lot number
    removed_board: str  # taken out of the last device in a repair

    @property
    def device_lot_udi(self) -> str:
        return f"(01){self.w.gtin(self.w.device)}(10){self.device_lot}"

    @property
    def case_udi(self) -> str:
        parsed = udi.parse(self.case)
        return f"(00){parsed.sscc}"


def tell(w: f.World, hospitals: tuple[Party, Party], *, devices: int = 3, tag: str = "S") -> Story:
    """``devices`` devices (at least 3): the first goes to hospital a, the second to hospital b,
    the rest stay with the maker; the last one's board is removed in a repair."""
    resin = w.resin_lot(f"RES-{tag}")
    boards = [w.board_sn(f"{tag}B{i}") for i in range(devices)]
    units = [w.device_sn(f"{tag}D{i}") for i in range(devices)]
    case = w.sscc(900 + devices)
    maker = w.pgln(w.maker)
    lot = f"DL-{tag}"
    f.capture(
        f.transform(f.t(1), input_lots=[(resin, 3.0)], outputs=boards, location=w.plant.sgln),
        f.commission(units, f.t(2), location=w.plant.sgln, ilmd={"cbvmda:lotNumber": lot}),
        *[f.associate(unit, [board], f.t(2, 10), location=w.plant.sgln)
          for unit, board in zip(units, boards, strict=True)],
        f.aggregate(case, units[:2], f.t(3), location=w.warehouse.sgln),
        *[f.obj([unit], f.t(5), biz_step="receiving", location=None,
                sources=[("possessing_party", maker)],
                destinations=[("possessing_party", w.pgln(party)),
                              ("owning_party", w.pgln(party))])
          for unit, party in zip(units[:2], hospitals, strict=True)],
        f.associate(units[-1], [boards[-1]], f.t(9), action="DELETE", biz_step="repairing"),
    )  # fmt: skip
    return Story(w, resin, boards, units, case, lot, boards[-1])


def ship_counted_lot(w: f.World, hospitals: tuple[Party, Party]) -> str:
    """A lot of counted goods (no serials): 300 made, 200 shipped to hospital a, 100 to b."""
    lot = udi.lgtin_urn(w.gtin(w.device), "QTY-1", 7)
    maker = w.pgln(w.maker)
    f.capture(
        f.obj_lots([(lot, 300)], f.t(1), action="ADD", biz_step="commissioning"),
        *[f.obj_lots([(lot, n)], f.t(3), biz_step="shipping",
                     sources=[("possessing_party", maker)],
                     destinations=[("possessing_party", w.pgln(party))])
          for n, party in zip((200, 100), hospitals, strict=True)],
    )  # fmt: skip
    return lot
