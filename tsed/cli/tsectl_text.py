"""``tsectl``'s human output of the connection test, the register reset and the TSS status,
in the run's language (:mod:`tsed.cli.say`); ``--json`` prints the answers unchanged."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TextIO

from tsed.cli.say import lang, t
from tsed.config.text import shown
from tsed.texts import error_text, has
from tsed.texts.steps import step_detail, step_hint

_MARK_WIDTH = 12  # "ÜBERSPRUNGEN"


def _step_title(step: Mapping[str, Any]) -> str:
    name = str(step.get("step"))
    title = t(f"step.{name}") if has(f"step.{name}") else shown(name)
    if step.get("tenant"):
        return t("step.tenant", title=title, tenant=shown(str(step["tenant"])))
    return title


def _args(step: Mapping[str, Any]) -> dict[str, str]:
    args = step.get("detail_args")
    return {str(k): shown(str(v)) for k, v in args.items()} if isinstance(args, Mapping) else {}


def _step_detail(step: Mapping[str, Any], earlier_failed: bool) -> str:
    """What the step found, from its catalogue id; a unit without ids: the step's summary."""
    name, verdict = str(step.get("step")), str(step.get("verdict"))
    if step.get("detail_id"):
        return step_detail(str(step["detail_id"]), _args(step), lang())
    if verdict == "skipped":
        own = f"step.{name}.skipped"
        return t(own) if has(own) and not earlier_failed else t("step.skipped")
    for candidate in (f"step.{name}.{verdict}", f"step.{name}.fail"):
        if has(candidate):
            return t(candidate)
    return t(f"verdict.{verdict}")


def _step_hint(step: Mapping[str, Any]) -> str | None:
    if step.get("detail_id"):
        return step_hint(str(step["detail_id"]), _args(step), lang())
    generic = f"step.{step.get('step')}.hint"
    return t(generic) if has(generic) else None


def print_test(data: Mapping[str, Any], out: TextIO) -> None:
    """The connection test: a head, one line per step, what was and was not checked."""
    if lang() == "en":  # the unit's own lines are English and say more
        for line in data.get("lines", []):
            out.write(f"{shown(str(line))}\n")
        return
    verdict = str(data.get("verdict", "fail"))
    out.write(t("test.head", mode=data.get("mode", "?"), verdict=t(f"verdict.{verdict}")) + "\n")
    failed = False
    checked: list[str] = []
    skipped: list[str] = []
    for step in data.get("steps", []):
        state = str(step.get("verdict"))
        mark = f"[{t(f'verdict.{state}'):^{_MARK_WIDTH}}]"
        title = _step_title(step)
        out.write(t("test.line", mark=mark, title=title, detail=_step_detail(step, failed)) + "\n")
        hint = _step_hint(step) if state in ("warn", "fail") else None
        if hint:
            out.write(t("test.line_hint", hint=hint) + "\n")
        (skipped if state == "skipped" else checked).append(title)
        failed = failed or state == "fail"
    if checked:
        out.write(t("test.checked", steps=", ".join(checked)) + "\n")
    out.write((t("test.not_checked", steps=", ".join(skipped)) if skipped
               else t("test.all_checked")) + "\n")  # fmt: skip


def print_reset(data: Mapping[str, Any], out: TextIO) -> None:
    registers = data.get("registers", [])
    if not registers:
        out.write(t("reset.none") + "\n")
    for item in registers:
        reg = shown(str(item.get("register_id")))
        if item.get("ok"):
            out.write(
                t("reset.ok", id=reg, client=shown(str(item.get("client_id"))),
                  tenant=shown(str(item.get("tenant_id")))) + "\n"
            )  # fmt: skip
            continue
        error = item.get("error") if isinstance(item.get("error"), Mapping) else {}
        message = error_text(
            str(error.get("code", "INTERNAL")), lang(), message=error.get("message")
        )["message"]
        out.write(t("reset.failed", id=reg, message=message) + "\n")


def print_tss(data: Mapping[str, Any], out: TextIO) -> None:
    tss = data.get("tss", {})
    if not tss:
        out.write(t("tss.none") + "\n")
    for tenant, item in tss.items():
        out.write(
            t("tss.line", tenant=shown(str(tenant)), state=shown(str(item.get("state"))),
              env=shown(str(item.get("env"))), serial=shown(str(item.get("serial"))))
            + "\n"
        )  # fmt: skip
        out.write(
            t("tss.counters", signatures=item.get("signature_counter", "-"),
              transactions=item.get("transaction_counter", "-"),
              open=item.get("active_transactions", "-"),
              clients=item.get("registered_clients", "-"))
            + "\n"
        )  # fmt: skip


def notice_lines(data: Mapping[str, Any]) -> list[str]:
    """The notices of ``tsectl status`` and ``tsectl health`` in the run's language: from their
    catalogue ids (``notice_ids``); a unit without ids, or English: its own texts."""
    own = [str(notice) for notice in data.get("notices", [])]
    found = data.get("notice_ids")
    if lang() == "en" or not isinstance(found, list) or len(found) != len(own):
        return [shown(text) for text in own]
    return [
        t(str(item.get("id")), **{str(k): shown(str(v)) for k, v in item.get("args", {}).items()})
        for item in found
    ]


def test_trouble(last: Mapping[str, Any]) -> list[str]:
    """The steps of a night's connection test (its self-check) that warned or failed, each
    with what it found, in the run's language."""
    selfcheck = next((s for s in last.get("steps", []) if s.get("step") == "selfcheck"), None)
    if not isinstance(selfcheck, Mapping):
        return []
    connection = selfcheck.get("details", {}).get("connection", {})
    return [
        t("health.test_step", title=_step_title(item), detail=_step_detail(item, False))
        for item in connection.get("steps", [])
        if item.get("verdict") in ("warn", "fail")
    ]
