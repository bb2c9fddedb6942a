"""A stateful test over two in-process chains: transfers both ways, relayed in any order, acked or
timed out, and at every step A's escrow for the route equals B's vouchers outstanding plus what is
in flight (and each chain keeps its own invariants: `World.block` checks them every block)."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bftx.errors import Code
from bftx.exchange.interchain import Packet
from bftx.exchange.transactions import IbcTransfer

from .interchain_support import HOUR_MS, Path
from .support import ALICE, BOB
from .test_interchain import assert_escrow_covers_vouchers

TIMEOUTS_MS = (2_500, HOUR_MS)


class TwoChains(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.path = Path.open()
        self.back = self.path.reversed()
        self.sent: list[tuple[Path, Packet]] = []  # committed on the sender, not yet received
        self.received: list[tuple[Path, Packet]] = []  # received, ack not yet relayed

    @rule(amount=st.integers(1, 10**6), timeout_ms=st.sampled_from(TIMEOUTS_MS))
    def send_out(self, amount: int, timeout_ms: int) -> None:
        packet, _height = self.path.send(amount=amount, timeout_in_ms=timeout_ms)
        self.sent.append((self.path, packet))

    @rule(share=st.integers(1, 4), timeout_ms=st.sampled_from(TIMEOUTS_MS))
    def send_home(self, share: int, timeout_ms: int) -> None:
        voucher = f"{self.path.b_client}/BTC"
        amount = self.path.b.available(BOB, voucher) // share
        if amount == 0:
            return
        back = self.back
        body = IbcTransfer(
            voucher,
            amount,
            ALICE.address,
            back.a_client,
            back.b_client,
            back.timeout_after(timeout_ms),
        )
        assert back.a.run(BOB, body) is Code.OK
        client = back.a.exchange.state.interchain.clients[back.a_client]
        sequence = client.next_sequence - 1
        packet = back.a.exchange.state.interchain.commitments[(back.a_client, sequence)]
        self.sent.append((back, packet))

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def relay_receive(self, data: st.DataObject) -> None:
        path, packet = self.sent[data.draw(st.integers(0, len(self.sent) - 1))]
        code = path.receive(packet, path.a.exchange.height)
        assert code in (Code.OK, Code.PACKET_TIMED_OUT)
        if code is Code.OK:
            self.sent.remove((path, packet))
            self.received.append((path, packet))

    @precondition(lambda self: bool(self.received))
    @rule(data=st.data())
    def relay_ack(self, data: st.DataObject) -> None:
        path, packet = self.received.pop(data.draw(st.integers(0, len(self.received) - 1)))
        assert path.acknowledge(packet) is Code.OK

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def relay_timeout(self, data: st.DataObject) -> None:
        path, packet = self.sent[data.draw(st.integers(0, len(self.sent) - 1))]
        code = path.timeout(packet)
        assert code in (Code.OK, Code.TIMEOUT_NOT_REACHED)
        if code is Code.OK:
            self.sent.remove((path, packet))

    @rule()
    def time_passes(self) -> None:
        self.path.a.advance(2)
        self.path.b.advance(2)

    @invariant()
    def escrow_covers_vouchers(self) -> None:
        assert_escrow_covers_vouchers(self.path)


TwoChains.TestCase.settings = settings(max_examples=10, stateful_step_count=12, deadline=None)
test_escrow_equals_vouchers_outstanding_at_every_step = TwoChains.TestCase
