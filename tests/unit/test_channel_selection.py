"""Channel selection from the cached channel table (``oneapi.cache.ChannelTable``): groups,
priority tiers, weights (checked statistically with a seeded RNG), exclusions on retry,
disabled channels; and the records the cache builds from database rows."""

from __future__ import annotations

import ipaddress
import random
import time
from collections import Counter
from types import SimpleNamespace

import pytest

from oneapi.cache import Cache, ChannelTable, channel_record, token_record
from oneapi.models import CHANNEL_AUTO_DISABLED, CHANNEL_ENABLED, CHANNEL_MANUALLY_DISABLED
from oneapi.relay.context import ChannelRecord, TokenRecord

DRAWS = 20_000


def ch(cid: int, priority: int = 0, weight: int = 0, status: int = CHANNEL_ENABLED,
       models: tuple[str, ...] = ("m",), groups: tuple[str, ...] = ("default",)) -> ChannelRecord:
    return ChannelRecord(id=cid, type=1, name=f"c{cid}", key="k", status=status, base_url="", models=models,
                         groups=groups, model_mapping={}, priority=priority, weight=weight, config={}, other="",
                         system_prompt="", organization="")


def shares(table: ChannelTable, seed: int = 7, group: str = "default", model: str = "m",
           exclude: set[int] | None = None) -> dict[int, float]:
    rng = random.Random(seed)
    counts = Counter(table.pick(group, model, exclude or set(), rng).id for _ in range(DRAWS))  # type: ignore[union-attr]
    return {cid: n / DRAWS for cid, n in counts.items()}


def close_to(observed: dict[int, float], expected: dict[int, float]) -> bool:
    """Each share within 5 standard deviations of its expectation (and nothing else drawn)."""
    return observed.keys() == expected.keys() and all(
        abs(observed[c] - p) <= 5 * (p * (1 - p) / DRAWS) ** 0.5 + 1e-9 for c, p in expected.items())


# --- weights ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_channels_of_the_top_tier_are_drawn_in_proportion_to_their_weights(seed) -> None:
    table = ChannelTable([ch(1, 5, 1), ch(2, 5, 2), ch(3, 5, 7), ch(4, 0, 1000)])
    assert close_to(shares(table, seed), {1: 0.1, 2: 0.2, 3: 0.7})


def test_a_weight_of_zero_or_below_counts_as_one() -> None:
    table = ChannelTable([ch(1, weight=0), ch(2, weight=-5), ch(3, weight=2)])
    assert close_to(shares(table), {1: 0.25, 2: 0.25, 3: 0.5})


def test_the_draw_follows_the_rng_it_is_given() -> None:
    table = ChannelTable([ch(c, weight=c) for c in range(1, 6)])
    a = [table.pick("default", "m", set(), random.Random(42)).id for _ in range(50)]  # type: ignore[union-attr]
    rng1, rng2 = random.Random(42), random.Random(42)
    b = [table.pick("default", "m", set(), rng1).id for _ in range(50)]  # type: ignore[union-attr]
    c = [table.pick("default", "m", set(), rng2).id for _ in range(50)]  # type: ignore[union-attr]
    assert b == c and len(set(b)) > 1  # same seed, same choices; and they do vary
    assert len(set(a)) == 1  # a fresh RNG of one seed each time: always its first draw


# --- priorities, exclusions, retries ------------------------------------------------------------------


def test_the_highest_priority_tier_wins_while_any_of_it_is_left() -> None:
    table = ChannelTable([ch(1, priority=-3), ch(2, priority=10), ch(3, priority=0), ch(4, priority=10)])
    assert close_to(shares(table), {2: 0.5, 4: 0.5})
    assert close_to(shares(table, exclude={2}), {4: 1.0})  # one excluded: the rest of its tier, never lower
    assert close_to(shares(table, exclude={2, 4}), {3: 1.0})  # the tier exhausted: the next
    assert table.pick("default", "m", {1, 2, 3, 4}, random.Random(0)) is None


def test_retries_visit_every_channel_once_tier_by_tier() -> None:
    table = ChannelTable([ch(c, priority=c // 3, weight=c) for c in range(9)])
    for seed in range(20):
        rng, tried, order = random.Random(seed), set(), []
        while (picked := table.pick("default", "m", tried, rng)) is not None:
            tried.add(picked.id)
            order.append(picked.id)
        assert sorted(order) == list(range(9))
        assert [c // 3 for c in order] == [2, 2, 2, 1, 1, 1, 0, 0, 0]


def test_exclusions_of_other_models_channels_change_nothing() -> None:
    table = ChannelTable([ch(1, models=("m",)), ch(2, models=("other",))])
    assert table.pick("default", "m", {2, 99}, random.Random(0)).id == 1  # type: ignore[union-attr]


# --- groups, models, disabled channels ------------------------------------------------------------------


def test_a_channel_serves_each_of_its_groups_and_only_them() -> None:
    table = ChannelTable([ch(1, groups=("default", "vip")), ch(2, groups=("vip",), priority=5),
                          ch(3, groups=("default",), models=("m", "n"))])
    assert close_to(shares(table, group="default"), {1: 0.5, 3: 0.5})
    assert close_to(shares(table, group="vip"), {2: 1.0})
    assert table.pick("vip", "m", {2}, random.Random(0)).id == 1  # type: ignore[union-attr]
    assert table.pick("vip", "n", set(), random.Random(0)) is None  # channel 3 is not in vip
    assert table.pick("nobody", "m", set(), random.Random(0)) is None


def test_a_model_without_a_channel_is_none_and_models_are_listed_per_group() -> None:
    table = ChannelTable([ch(1, models=("b", "a")), ch(2, models=("c", "a"), groups=("vip",)),
                          ch(3, models=("z",), status=CHANNEL_MANUALLY_DISABLED)])
    assert table.pick("default", "unknown-model", set(), random.Random(0)) is None
    assert table.models_for("default") == ["a", "b"] and table.models_for("vip") == ["a", "c"]
    assert table.models_for("nobody") == []


@pytest.mark.parametrize("status", [CHANNEL_MANUALLY_DISABLED, CHANNEL_AUTO_DISABLED, 0])
def test_disabled_channels_are_never_drawn_but_are_known_by_id(status) -> None:
    table = ChannelTable([ch(1, priority=9, weight=1000, status=status), ch(2)])
    assert close_to(shares(table), {2: 1.0})
    assert table.by_id[1].status == status  # pinning by id reports it, and the API shows it
    assert table.pick("default", "m", {2}, random.Random(0)) is None  # no fallback onto it


def test_an_empty_table_serves_nothing() -> None:
    assert ChannelTable(()).pick("default", "m", set(), random.Random(0)) is None


# --- records built from rows -------------------------------------------------------------------------------


def row(**fields: object) -> SimpleNamespace:
    base = dict(id=7, type=14, name="claude", key="sk-x", status=1, base_url=None, models="a, b,,a , c",
                group="default, vip,default", model_mapping='{"gpt-4": "claude-3", "x": "", "n": 5}',
                priority=None, weight=None, config='{"max_tokens": 100}', other=None, system_prompt=None,
                openai_organization=None)
    return SimpleNamespace(**{**base, **fields})


def test_a_channel_row_becomes_a_record() -> None:
    record = channel_record(row())  # type: ignore[arg-type]
    assert record.models == ("a", "b", "c") and record.groups == ("default", "vip")
    assert record.model_mapping == {"gpt-4": "claude-3", "n": "5"}  # empty targets dropped
    assert (record.priority, record.weight, record.base_url, record.other) == (0, 0, "", "")
    assert record.config == {"max_tokens": 100} and record.organization == ""


@pytest.mark.parametrize("mapping", ["not json", "[1, 2]", "", None])
def test_a_broken_model_mapping_or_config_is_empty(mapping) -> None:
    record = channel_record(row(model_mapping=mapping, config=mapping))  # type: ignore[arg-type]
    assert record.model_mapping == {} and record.config == {}


def test_a_token_row_becomes_a_record() -> None:
    base = dict(id=3, user_id=1, key="k" * 48, name="t", status=1, expired_time=-1, remain_quota=10,
                unlimited_quota=1, models="", subnet="10.0.0.0/8, 192.168.1.7")
    record = token_record(SimpleNamespace(**base))  # type: ignore[arg-type]
    assert record.models is None and record.unlimited_quota is True  # no list: every model
    assert record.subnets == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.168.1.7/32"))
    limited = token_record(SimpleNamespace(**{**base, "models": "gpt-4o,claude", "subnet": None}))  # type: ignore[arg-type]
    assert limited.models == frozenset({"gpt-4o", "claude"}) and limited.subnets == ()


# --- invalidation (no database: entries put in by hand) -------------------------------------------------------


def test_dropping_a_user_drops_its_tokens_and_abandons_loads_under_way() -> None:
    cache = Cache(ttl=60)
    loaded = time.monotonic()
    mine = TokenRecord(1, 5, "a", "t", 1, -1, 0, False, None, ())
    theirs = TokenRecord(2, 6, "b", "t", 1, -1, 0, False, None, ())
    cache._tokens = {"a": (loaded, mine), "b": (loaded, theirs)}
    cache._unknown["gone"] = loaded
    changed: list[bool] = []
    cache.on_accounts_changed = lambda: changed.append(True)
    generation = cache._generation
    cache.invalidate_user(5)
    assert set(cache._tokens) == {"b"} and cache._generation > generation and changed == [True]
    cache._on_message("token:b")  # another node wrote token b
    assert set(cache._tokens) == set() and set(cache._unknown) == {"gone"}
    cache._on_message("token:gone")  # a token with this key was created on another node
    assert set(cache._unknown) == set()
