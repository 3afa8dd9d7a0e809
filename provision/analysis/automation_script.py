"""A repeated workflow as a bash script a user can run as it is.

What every script does, in order (docs/hints-and-automation.md, "Workflow scripts", says the same to users):

1. `set -euo pipefail`; options `--region REGION` (every step), `--any-account`, `--help`;
   then exactly its positional arguments (the inputs that varied across occurrences and that
   no earlier step's output supplies), checked (numbers must be numbers);
2. secrets and values CloudTrail never logs come from environment variables named for their
   botocore member (`PASSWORD`, `NEW_PASSWORD`), checked before anything runs;
3. before the first change, `aws sts get-caller-identity` must name the logged account
   (`--any-account` proceeds anyway); with `DRY_RUN=1` nothing runs, not even that check;
4. each step is echoed, then run in its logged region (`AWS_REGION` or `--region` override
   a one-region script; only `--region` a multi-region one); a failing step N stops the
   script with exit code 10 + N; an id an earlier step created is captured from its output.

Values are data: text from the logs reaches the shell only inside single quotes (comments
and messages are stripped of control characters first), variables are named by ctstack
(`arg`, botocore member names, `stepN_...`), and every variable reaches the AWS CLI inside
`--cli-input-json`, through `ct_json`, so no value becomes an option or a file reference.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from botocore import xform_name

from provision.cloudtrail import commandline, inputpaths
from provision.cloudtrail.commandline import Ref, printable

STEP_EXIT_BASE = 10   # a failing step N exits with STEP_EXIT_BASE + N
ACCOUNT_EXIT = 3      # the credentials are for another account (or cannot be checked)
USAGE_EXIT = 2
_ACCOUNT = re.compile(r"^\d{12}$")

_HELPERS = r"""ct_json() {  # one JSON string holding "$1" as data (quotes, backslashes, control characters escaped)
  local s="$1" c code
  s="${s//\\/\\\\}"; s="${s//\"/\\\"}"
  for code in {1..31}; do
    printf -v c '%b' "\\0$(printf '%03o' "$code")"
    s="${s//"$c"/$(printf '\\u%04x' "$code")}"
  done
  printf '"%s"' "$s"
}
ct_run() {  # ct_run STEP COMMAND...: echo the step, then run it (DRY_RUN=1: echo only)
  local step="$1"; shift
  printf 'step %s:' "$step" >&2; printf ' %q' "$@" >&2; printf '\n' >&2
  if [ "${DRY_RUN:-0}" = 1 ]; then printf 'dry-run-output-of-step-%s\n' "$step"; return 0; fi
  local status=0
  "$@" || status=$?
  if [ "$status" -ne 0 ]; then
    printf 'step %s failed (exit %s): stopping; the steps before it are done.\n' "$step" "$status" >&2
    exit $((STEP_EXIT_BASE + step))
  fi
}""".replace("STEP_EXIT_BASE", str(STEP_EXIT_BASE))


def _say(text: str) -> str:
    """A line the script prints to stderr: logged text as one single-quoted word."""
    return f"printf '%s\\n' {shlex.quote(printable(text))} >&2"


def _comment(text: str) -> str:
    return "# " + printable(text)


def secret_refs(parameters: dict[str, Any], secrets: list[dict[str, Any]], step: int) -> dict[tuple, Ref]:
    """The paths of a step's secrets, each read from its environment variable."""
    refs = {}
    for secret in secrets:
        for s, parts in secret["uses"]:
            if s == step:
                refs.update(commandline.secret_refs(parameters, [{"parts": list(parts), "env": secret["env"]}]))
    return refs


def script(workflow: dict[str, Any], links: list[tuple[int, tuple, int, tuple]], arguments: list[dict[str, Any]],
           secrets: list[dict[str, Any]]) -> str:
    """The workflow as a bash script (see the module docstring for what it does)."""
    steps = workflow["steps"]
    regions = list(dict.fromkeys(s["region"] for s in steps if s["service"]))
    account = workflow.get("account") or ""
    replacements: dict[int, dict[tuple, Ref]] = {i: secret_refs(s["parameters"], secrets, i) for i, s in enumerate(steps)}
    for a in arguments:
        for s, parts in a["uses"]:
            replacements[s][parts] = Ref(a["name"], number=not isinstance(a["value"], str))
    captures: dict[int, list[tuple[str, str]]] = {}
    for i, out, j, parts in links:
        variable = f"step{i + 1}_" + "_".join(xform_name(str(p)) for p in out if not isinstance(p, int))
        variable = re.sub(r"[^a-z0-9_]", "_", variable.lower())
        query = inputpaths.path_text(out)
        if (query, variable) not in captures.setdefault(i, []):
            captures[i].append((query, variable))
        replacements[j][parts] = Ref(variable)

    lines = ["#!/usr/bin/env bash",
             # SC2016: logged text is kept in single quotes on purpose, so that `$(...)` in it stays text.
             "# shellcheck disable=SC2016",
             _comment(" -> ".join(s["action"] for s in steps)),
             _comment(f"Done by hand in the AWS console {workflow['occurrences']} times on {workflow['days']} days "
                      f"({workflow['first_seen'][:10]} to {workflow['last_seen'][:10]}) by {', '.join(workflow['users']) or 'unknown users'}."),
             "# Generated by ctstack from CloudTrail. Before its first change it checks that your credentials are for "
             + (f"account {account}" if _ACCOUNT.match(account) else "the logged account (not logged here: no check)"),
             "# (aws sts get-caller-identity; --any-account skips that) and runs each step in its logged region "
             + f"({', '.join(printable(r) for r in regions) or 'none'}; --region overrides"
             + ("; so does AWS_REGION)." if len(regions) == 1 else "; AWS_REGION does not, the steps' regions differ)."),
             f"# DRY_RUN=1 prints every step and runs none. A failing step N stops it with exit code {STEP_EXIT_BASE} + N."]
    if links:
        lines += [_comment(f"Step {j + 1} {inputpaths.path_text(p)} is the {inputpaths.path_text(o)} step {i + 1} creates (captured from its output).")
                  for i, o, j, p in links]
    else:
        lines.append("# No step's output is captured: what an earlier step created, a later one takes as an argument.")
    for a in arguments:
        lines.append(_comment(f"Argument {a['name'].upper()} feeds " + ", ".join(f"step {s + 1} {inputpaths.path_text(p)}" for s, p in a["uses"]) + "."))
    for e in secrets:
        lines.append(_comment(f"Environment variable {e['env']} ({e['reason']}) feeds "
                              + ", ".join(f"step {s + 1} {inputpaths.path_text(p)}" for s, p in e["uses"]) + "."))
    for i, s in enumerate(steps):
        if not s["service"]:
            lines.append(_comment(f"Step {i + 1} {s['action']} has no public API: it stays a step done in the console."))
    lines += ["set -euo pipefail", "", _HELPERS, "", "ct_usage() {"]
    usage = " ".join(a["name"].upper() for a in arguments)
    lines.append(_say(f"usage: {workflow['name']}.sh [--region REGION] [--any-account] [--]{(' ' + usage) if usage else ''}"))
    for a in arguments:
        uses = ", ".join(f"step {s + 1} {inputpaths.path_text(p)}" for s, p in a["uses"])
        lines.append(_say(f"  {a['name'].upper()}: {uses}; last used: {a['value']}"))
    for e in secrets:
        lines.append(_say(f"  environment {e['env']}: " + ", ".join(f"step {s + 1} {inputpaths.path_text(p)}" for s, p in e["uses"])
                          + f" ({e['reason']})"))
    lines.append(_say("  DRY_RUN=1 prints every step and runs none; --any-account skips the account check; "
                      + ("--region or AWS_REGION sets the region." if len(regions) == 1 else "--region sets every step's region.")))
    start = lines.index("ct_usage() {") + 1
    lines[start:] = ["  " + line for line in lines[start:]]
    lines += ["}", 'ct_region_override="${AWS_REGION:-}"' if len(regions) == 1 else 'ct_region_override=""',
              "ct_any_account=0",
              'while [ "$#" -gt 0 ]; do',
              '  case "$1" in',
              f'    --region) [ "$#" -ge 2 ] || {{ ct_usage; exit {USAGE_EXIT}; }}; ct_region_override="$2"; shift 2 ;;',
              "    --any-account) ct_any_account=1; shift ;;",
              "    -h|--help) ct_usage; exit 0 ;;",
              "    --) shift; break ;;",
              "    *) break ;;",
              "  esac",
              "done",
              f'if [ "$#" -ne {len(arguments)} ]; then ct_usage; exit {USAGE_EXIT}; fi']
    for n, a in enumerate(arguments, 1):
        lines.append(f'{a["name"]}="${{{n}}}"')
        if isinstance(a["value"], bool):
            lines.append(f'[[ "${a["name"]}" =~ ^(true|false)$ ]] || {{ echo "{a["name"].upper()} must be true or false" >&2; exit {USAGE_EXIT}; }}')
        elif not isinstance(a["value"], str):
            lines.append(f'[[ "${a["name"]}" =~ ^-?[0-9]+([.][0-9]+)?$ ]] || {{ echo "{a["name"].upper()} must be a number" >&2; exit {USAGE_EXIT}; }}')
    for e in secrets:
        # The message is ctstack's own text only: bash expands the word after :? .
        lines.append(f': "${{{e["env"]}:?set {e["env"]} in the environment ({e["reason"]}); a script never takes it as an argument}}"')
    region_vars = {}
    for k, region in enumerate(regions, 1):
        variable = "ct_region" if len(regions) == 1 else f"ct_region_{k}"
        region_vars[region] = variable
        if commandline.is_region(region):
            lines.append(f'{variable}="${{ct_region_override:-{region}}}"')
        else:
            lines.append(f'{variable}="${{ct_region_override:?the region of a step was not logged: give --region}}"')
    lines += ["", 'if [ "${DRY_RUN:-0}" = 1 ]; then',
              "  echo 'DRY_RUN=1: printing the steps, running none (no account check either).' >&2"]
    if _ACCOUNT.match(account):
        lines += [f"elif [ \"$ct_any_account\" != 1 ]; then",
                  '  ct_caller="$(aws sts get-caller-identity --query Account --output text)" || '
                  f"{{ echo 'Cannot tell which account these credentials are for: stopping before any change.' >&2; exit {ACCOUNT_EXIT}; }}",
                  f'  if [ "$ct_caller" != {account} ]; then',
                  f'    echo "These credentials are for account $ct_caller, but this workflow was done in account {account}: '
                  f'stopping before any change (--any-account runs it there anyway)." >&2',
                  f"    exit {ACCOUNT_EXIT}",
                  "  fi"]
    lines.append("fi")
    splice = _splice
    for i, step in enumerate(steps):
        lines.append("")
        if not step["service"]:
            lines.append(_comment(f"step {i + 1}: {step['action']}"))
            lines.append(_say(f"step {i + 1}: {step['action']} is done in the console (no public API): do it there by hand."))
            continue
        command = commandline.command(step["service"], step["operation"], commandline.substitute(step["parameters"], replacements[i]),
                                    region_word=f'"${region_vars[step["region"]]}"', splice=splice)
        lines.append(_comment(f"step {i + 1}: {step['action']}"))
        outs = captures.get(i)
        if not outs:
            lines.append(f"ct_run {i + 1} {command}")
        elif len(outs) == 1:
            lines.append(f'{outs[0][1]}="$(ct_run {i + 1} {command} --query {shlex.quote(outs[0][0])} --output text)"')
        else:
            query = "[" + ",".join(o for o, _ in outs) + "]"
            lines.append(f'step{i + 1}_output="$(ct_run {i + 1} {command} --query {shlex.quote(query)} --output text)"')
            lines.append(f"read -r {' '.join(v for _, v in outs)} <<<\"$step{i + 1}_output\"")
    return "\n".join(lines) + "\n"


def _splice(ref: Ref) -> str:
    """A variable inside --cli-input-json: a JSON string made by ct_json, or a checked number."""
    return f'"${{{ref.name}}}"' if ref.number else f'"$(ct_json "${{{ref.name}}}")"'
