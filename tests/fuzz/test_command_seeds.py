"""The fuzz target's properties hold on its seeds, and the seeds reach every outcome:
a harness that could not fail, or never saw a payment, would prove nothing."""

from __future__ import annotations

import pytest

from tests.fuzz import command_properties as props


@pytest.mark.parametrize("direct", [False, True])
def test_the_seeds_pass_the_checks_and_cover_every_kind(direct: bool) -> None:
    kinds = {
        props.check(props.encode(author, seed, direct=direct)).kind
        for seed in props.SEEDS
        for author in range(len(props.AUTHORS))
    }
    assert {"send", "donate", "request", "pot", "invalid", "not_a_command"} <= kinds


def test_a_lone_surrogate_or_broken_utf8_is_input_like_any_other() -> None:
    for data in (
        props.encode(0, "@SmoneyFR #envoyer 5€ @bob \ud800"),
        b"\x00@SmoneyFR #envoyer 5\xff\xfe\x80 @bob",
        b"",
        b"\x80",
    ):
        props.check(data)


def test_the_checks_catch_a_parser_that_pays_the_bot(monkeypatch: pytest.MonkeyPatch) -> None:
    real = props.parse

    def paying_the_bot(text: str, **kwargs: object) -> props.ParseResult:
        found = real(text, **kwargs)  # type: ignore[arg-type]
        if found.kind == "send":
            return props.ParseResult("send", found.amount, "smoneyfr")
        return found

    monkeypatch.setattr(props, "parse", paying_the_bot)
    with pytest.raises(AssertionError):
        props.check(props.encode(0, "@SmoneyFR #envoyer 5€ @bob"))
