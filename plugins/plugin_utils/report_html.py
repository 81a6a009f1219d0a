# Copyright: Contributors to the openstack_ops.runbooks collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One self-contained HTML page from a runbook's JSON report.

The page has inline CSS and SVG only: no script, no font, nothing fetched, so it opens from disk or an AWX
artifact link. Every figure on it comes from the report; every string is masked as the JSON is (passwords in
URLs) and HTML-escaped. Elements carry ``data-*`` attributes with the raw numbers, for the tests and for anyone
who wants to read the page with a tool.
"""

import datetime
import html

from ansible_collections.openstack_ops.runbooks.plugins.module_utils.redact import MASK, SECRET_NAME, mask_url

KINDS = ('placement_audit', 'placement_clean', 'placement_fit', 'cells', 'conductor_recovery', 'trace', 'tuning', 'triage',
         'db_connections', 'checkup')

# The classifications of placement_allocation, in the order a person reads them, and the ones a clean removes
# (clean_placement's default clean_placement_classes).
CLASSIFICATION_ORDER = ('orphan', 'deleted_instance', 'stale_source', 'mismatched', 'unverifiable', 'building',
                        'migration_in_progress', 'active')
CLEANABLE = ('orphan', 'deleted_instance', 'stale_source')

# Large audits stay readable: at most this many consumers are listed per provider and classification, and this
# many in the whole page; the rest are counted (their sums stay exact) and left to the JSON report.
LIST_PER_GROUP = 10
LIST_TOTAL = 2000
LIST_FINDINGS_PER_TYPE = 200
LIST_QUEUES = 500

CSS = """
:root{--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--info:#0969da;--muted:#57606a;--line:#d0d7de;--bg:#f6f8fa}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC",sans-serif;
margin:0;color:#1f2328;background:#fff}
header{padding:16px 24px;border-bottom:4px solid var(--muted);background:var(--bg)}
header.ok{border-color:var(--ok)}header.warn{border-color:var(--warn)}header.bad{border-color:var(--bad)}
header.info{border-color:var(--info)}
h1{font-size:20px;margin:0 0 8px}h2{font-size:17px;margin:24px 0 8px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:16px 0 4px}
main{padding:0 24px 32px;max-width:1280px}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:2px 16px;margin:0}
dl.meta dt{color:var(--muted)}dl.meta dd{margin:0}
.verdict{font-weight:600;font-size:16px;margin-top:8px}
.ok .verdict,.good{color:var(--ok)}.warn .verdict{color:var(--warn)}.bad .verdict,.badtext{color:var(--bad)}
.info .verdict{color:var(--info)}
table{border-collapse:collapse;margin:4px 0 12px}
th,td{border:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
th{background:var(--bg);font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.provider{border:1px solid var(--line);border-radius:6px;padding:8px 12px;margin:10px 0}
.provider.over{border-color:var(--bad)}
.provider h3{margin:0 0 4px}.muted{color:var(--muted)}
.rc{display:grid;grid-template-columns:120px 260px auto;gap:8px;align-items:center;margin:2px 0}
svg.bar rect.track{fill:#eaeef2}svg.bar rect.cap{fill:#b6e3ff}svg.bar rect.used{fill:#0969da}
svg.bar rect.over{fill:var(--bad)}svg.bar rect.asked{fill:#bf8700;opacity:.85}svg.bar line{stroke:#1f2328;stroke-width:1.5}
.chip{display:inline-block;border-radius:10px;padding:0 8px;margin:0 4px 2px 0;background:#eaeef2;font-size:12px}
.chip.removes,tr.removes td{background:#ffebe9}.chip.removes{color:var(--bad);font-weight:600}
details{margin:2px 0}summary{cursor:pointer}
.legend span{margin-right:14px}.legend i{display:inline-block;width:12px;height:10px;margin-right:4px}
svg.timeline text{font-size:12px;fill:#1f2328}svg.timeline .axis{stroke:var(--muted)}
svg.timeline rect.step{fill:#2da44e}svg.timeline rect.step.bad{fill:var(--bad)}
svg.timeline rect.step.planned{fill:#8c959f}svg.timeline line.fail{stroke:var(--bad);stroke-dasharray:4 3}
svg.lanes line.lane{stroke:#eaeef2}svg.lanes rect.mark{fill:var(--info)}svg.lanes rect.mark.warn{fill:var(--warn)}
svg.lanes rect.mark.bad{fill:var(--bad)}.warntext{color:var(--warn)}
.more{color:var(--muted);font-style:italic}
tr.held td{background:#ffebe9}.finding{border-left:4px solid var(--line);padding:2px 10px;margin:8px 0}
.finding.critical,.finding.high{border-color:var(--bad)}.finding.medium{border-color:var(--warn)}
.finding.low,.finding.info{border-color:var(--info)}
.chip.critical,.chip.high{background:#ffebe9;color:var(--bad);font-weight:600}.chip.medium{background:#fff8c5}
.chip.new,.chip.worse{background:#ffebe9;color:var(--bad)}.chip.fixed{background:#dafbe1;color:var(--ok)}
pre.gmr{max-height:240px;overflow:auto;background:var(--bg);padding:6px;font-size:11px}
@media print{header{background:none}details{display:block}}
"""


def e(value):
    """Text for the page: None as an em dash, everything else escaped."""
    if value is None:
        return '\u2014'
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if isinstance(value, float):
        return f'{value:g}'
    return html.escape(str(value), quote=True)


def mask(value):
    """The report as the JSON masks it (passwords in URLs), and any value under a secret-looking key hidden."""
    if isinstance(value, str):
        return mask_url(value)
    if isinstance(value, dict):
        return {key: (MASK if SECRET_NAME.search(str(key)) and item not in (None, '') and
                      not isinstance(item, (bool, dict, list)) else mask(item))
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(item) for item in value]
    return value


def number(value, default=0):
    """A figure of the report as a number (Jinja may have turned it into a string)."""
    if isinstance(value, bool) or value is None:
        return default
    if isinstance(value, (int, float)):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return float(value)
        except (TypeError, ValueError):
            return default


def parse_time(value):
    if not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(str(value).replace('Z', '+00:00'))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def resources_text(resources):
    return ', '.join(f'{e(rc)} {e(amount)}' for rc, amount in sorted((resources or {}).items()))


def render(report, kind, cloud=None, title=None, generated=None, check_mode=None):
    """The page for ``report`` (a dict as the runbook writes it as JSON) of the given ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not isinstance(report, dict):
        raise TypeError(f'the report must be a dict, not {type(report).__name__}')
    report = mask(report)
    renderer = dict(placement_audit=_placement_audit, placement_clean=_placement_clean, placement_fit=_placement_fit,
                    cells=_cells, conductor_recovery=_conductor_recovery, trace=_trace, tuning=_tuning, triage=_triage,
                    db_connections=_db_connections, checkup=_checkup)[kind]
    try:
        page = renderer(report)
    except Exception as exc:  # pylint: disable=broad-exception-caught
        # A report of a shape this renderer does not know must not fail the runbook that already wrote its JSON:
        # the page says so instead, and the tests look for this element.
        page = dict(title=kind.replace('_', ' '), verdict='this report could not be drawn', level='bad', time=None,
                    run=lambda check_mode: 'check mode' if check_mode else 'unknown',
                    body=f'<p class="badtext" id="render-error">The page could not be drawn from this report '
                         f'({e(type(exc).__name__)}: {e(exc)}); the JSON report beside it has everything.</p>')
    if check_mode is None:
        check_mode = bool(report.get('check_mode', False))
    when = parse_time(generated) or parse_time(page.get('time')) or datetime.datetime.now(datetime.timezone.utc)
    header = _header(title or page['title'], kind, _cloud_label(cloud), when, page['run'](check_mode),
                     page['verdict'], page['level'])
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<title>{e(title or page["title"])}</title><style>{CSS}</style></head>\n'
            f'<body data-kind="{e(kind)}">\n{header}\n<main>\n{page["body"]}\n</main></body></html>\n')


def _cloud_label(cloud):
    """What the header calls the cloud: a name, never a dict of settings (which may hold credentials)."""
    if isinstance(cloud, dict):
        region = cloud.get('region_name')
        return 'cloud settings given inline' + (f' (region {region})' if region else '')
    # Not set: empty, or a playbook's omit (ansible-core's Omit sentinel, or the placeholder string of older cores).
    if not isinstance(cloud, str) or not cloud or cloud.startswith('__omit_place_holder__'):
        return None
    return mask_url(cloud)


def _header(title, kind, cloud, when, run, verdict, level):
    return (f'<header id="header" class="{level}" data-level="{level}">\n<h1>{e(title)}</h1>\n<dl class="meta">'
            f'<dt>cloud</dt><dd id="cloud">{e(cloud)}</dd>'
            f'<dt>time</dt><dd id="time">{e(when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"))}</dd>'
            f'<dt>run</dt><dd id="run">{e(run)}</dd>'
            f'<dt>report</dt><dd>{e(kind)}</dd></dl>\n'
            f'<div class="verdict" id="verdict">{e(verdict)}</div>\n</header>')


def _table(headers, rows, numeric=(), attrs=''):
    """A table; ``rows`` hold HTML already escaped; ``numeric`` the indexes of right-aligned columns."""
    head = ''.join(f'<th{" class=n" if i in numeric else ""}>{h}</th>' for i, h in enumerate(headers))
    body = ''.join('<tr>' + ''.join(f'<td{" class=n" if i in numeric else ""}>{cell}</td>'
                                    for i, cell in enumerate(row)) + '</tr>' for row in rows)
    return f'<table{attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


# ---------------------------------------------------------------- placement


def _ordered_classes(classes):
    known = [c for c in CLASSIFICATION_ORDER if c in classes]
    return known + sorted(c for c in classes if c not in CLASSIFICATION_ORDER)


def _bar(rc, inv):
    """One resource class of a provider: used against capacity (total - reserved) * ratio, and what is over."""
    used, capacity = number(inv.get('used')), number(inv.get('capacity'))
    width = 240
    scale = max(used, capacity, 1)
    cap_w = round(capacity / scale * width, 1)
    used_w = round(min(used, capacity) / scale * width, 1)
    over = max(used - capacity, 0)
    over_w = round(over / scale * width, 1)
    formula = (f'({e(inv.get("total"))} \u2212 {e(inv.get("reserved"))}) \u00d7 {e(inv.get("allocation_ratio"))}')
    state = (f'<span class="badtext" data-over="{over}">over by {e(over)}</span>' if over
             else f'<span class="good">free {e(inv.get("free"))}</span>')
    svg = (f'<svg class="bar" width="{width}" height="14" viewBox="0 0 {width} 14" role="img">'
           f'<title>{e(rc)}: used {e(used)} of {e(capacity)}</title>'
           f'<rect class="track" width="{width}" height="14"/><rect class="cap" width="{cap_w}" height="14"/>'
           f'<rect class="used" width="{used_w}" height="14"/>'
           + (f'<rect class="over" x="{cap_w}" width="{over_w}" height="14"/>' if over else '')
           + f'<line x1="{cap_w}" x2="{cap_w}" y1="0" y2="14"/></svg>')
    return (f'<div class="rc" data-rc="{e(rc)}" data-used="{e(used)}" data-capacity="{e(capacity)}" '
            f'data-free="{e(inv.get("free"))}"><b>{e(rc)}</b>{svg}<span>used <b class="used">{e(used)}</b> of '
            f'<b class="capacity">{e(capacity)}</b> = {formula}; {state}</span></div>')


class _Budget:
    """How many consumer rows the page may still list."""

    def __init__(self, total):
        self.left = total
        self.unlisted = 0

    def take(self, wanted):
        granted = max(min(wanted, self.left), 0)
        self.left -= granted
        return granted


def _consumer_groups(entries, budget, removes):
    """A provider's consumers grouped by classification: count, summed resources, the first few listed."""
    groups = {}
    for entry in entries:
        groups.setdefault(entry.get('classification'), []).append(entry)
    parts = []
    for classification in _ordered_classes(groups):
        members = groups[classification]
        totals = {}
        for entry in members:
            for rc, amount in (entry.get('resources') or {}).items():
                totals[rc] = totals.get(rc, 0) + number(amount)
        removed = classification in removes
        shown = budget.take(min(len(members), LIST_PER_GROUP))
        rows = ''.join(
            f'<tr class="consumer{" removes" if removed else ""}" data-consumer="{e(entry.get("consumer_uuid"))}">'
            f'<td><code>{e(entry.get("consumer_uuid"))}</code></td><td>{resources_text(entry.get("resources"))}</td>'
            f'<td>{e(entry.get("reason"))}</td></tr>' for entry in members[:shown])
        more = len(members) - shown
        budget.unlisted += more
        more_row = (f'<tr><td colspan="3" class="more">and {more} more (in the JSON report)</td></tr>'
                    if more else '')
        label = ' \u2014 a clean removes these' if removed else ''
        parts.append(
            f'<details class="group{" removes" if removed else ""}" data-classification="{e(classification)}" '
            f'data-count="{len(members)}"{" open" if removed else ""}><summary>'
            f'<span class="chip{" removes" if removed else ""}">{e(classification)} {len(members)}</span> '
            f'holding {resources_text(totals) or "nothing"}{label}</summary>'
            f'<table><thead><tr><th>consumer</th><th>resources</th><th>why</th></tr></thead><tbody>{rows}{more_row}'
            f'</tbody></table></details>')
    return ''.join(parts)


def _provider(provider, budget, removes):
    inventories = provider.get('inventories') or {}
    over = any(number(inv.get('used')) > number(inv.get('capacity')) for inv in inventories.values())
    node = provider.get('compute_node') or {}
    where = (f'compute host {e(node.get("host"))}, cell {e(node.get("cell"))}' if node
             else ('sharing provider' if provider.get('sharing') else 'no compute node'))
    counts = ''.join(f'<span class="chip{" removes" if c in removes else ""}">{e(c)} {e(n)}</span>'
                     for c, n in ((c, (provider.get('summary') or {}).get(c))
                                  for c in _ordered_classes(provider.get('summary') or {})) if n)
    bars = ''.join(_bar(rc, inv) for rc, inv in sorted(inventories.items()))
    consumers = provider.get('consumers') or []
    return (f'<section class="provider{" over" if over else ""}" data-provider="{e(provider.get("name"))}" '
            f'data-uuid="{e(provider.get("uuid"))}" data-over="{str(over).lower()}">'
            f'<h3>{e(provider.get("name"))} <span class="muted">{where}</span></h3>'
            f'{bars or "<p class=muted>no inventory</p>"}'
            f'<div>allocations: {counts or "none"}</div>'
            f'{_consumer_groups(consumers, budget, removes)}</section>')


def _placement_summary(summary, removes):
    allocations = summary.get('allocations') or {}
    rows = [(f'<span class="chip{" removes" if c in removes else ""}">{e(c)}</span>'
             + (' a clean removes these' if c in removes else ''), e(allocations[c]))
            for c in _ordered_classes(allocations)]
    return (f'<table id="summary"><tbody>'
            f'<tr><th>providers</th><td class="n" data-key="providers">{e(summary.get("providers"))}</td></tr>'
            f'<tr><th>consumers</th><td class="n" data-key="consumers">{e(summary.get("consumers"))}</td></tr>'
            f'<tr><th>consumers with an allocation that is not active</th>'
            f'<td class="n" data-key="problem_consumers">{e(summary.get("problem_consumers"))}</td></tr>'
            f'<tr><th>over capacity</th><td data-key="over_capacity">'
            f'{e(", ".join(summary.get("over_capacity") or []) or "none")}</td></tr></tbody></table>'
            + _table(['allocations by classification', 'count'], rows, numeric=(1,), attrs=' id="allocations"'))


def _placement_verdict(summary, complete):
    over = summary.get('over_capacity') or []
    problems = number(summary.get('problem_consumers'))
    parts = []
    if over:
        parts.append(f'{len(over)} provider(s) over capacity: {", ".join(over)}')
    if problems:
        parts.append(f'{problems} consumer(s) with allocations that are not active')
    if not complete:
        parts.append('not every cell could be read: orphans cannot be told and none is cleaned')
    level = 'bad' if over else ('warn' if problems or not complete else 'ok')
    return ('; '.join(parts) or 'every allocation is active and no provider is over capacity'), level


def _placement_audit(report):
    summary = report.get('summary') or {}
    complete = report.get('complete', True)
    verdict, level = _placement_verdict(summary, complete)
    removes = CLEANABLE
    budget = _Budget(LIST_TOTAL)
    providers = list(report.get('providers') or [])
    # Over capacity first, then providers holding a problem, then by name.
    providers.sort(key=lambda p: (
        not any(number(i.get('used')) > number(i.get('capacity')) for i in (p.get('inventories') or {}).values()),
        not any(c.get('classification') != 'active' for c in p.get('consumers') or []),
        str(p.get('name'))))
    sections = ''.join(_provider(provider, budget, removes) for provider in providers)
    cells = _table(['cell', 'read', 'error'], [
        (e(cell.get('name') or cell.get('uuid')),
         '<span class=good>yes</span>' if cell.get('reachable') else '<span class=badtext>no</span>',
         e(cell.get('error'))) for cell in report.get('cells') or []], attrs=' id="cells"')
    doubled = [c for c in report.get('consumers') or [] if len(c.get('allocations') or []) > 1]
    doubled_rows = [(f'<code>{e(c.get("uuid"))}</code>', e(', '.join(c.get('classifications') or [])),
                     '<br>'.join(f'{e(a.get("provider_name"))}: {resources_text(a.get("resources"))} '
                                 f'({e(a.get("classification"))})' for a in c.get('allocations') or []))
                    for c in doubled[:LIST_PER_GROUP * 10]]
    legend = ('<p class="legend"><span><i style="background:#0969da"></i>used</span>'
              '<span><i style="background:#b6e3ff"></i>capacity (total \u2212 reserved) \u00d7 allocation_ratio</span>'
              '<span><i style="background:#cf222e"></i>over capacity</span>'
              '<span class="chip removes">highlighted</span> what clean_placement removes '
              '(orphan, deleted_instance, stale_source)</p>')
    level_note = {'full': 'every provider and consumer',
                  'problems': 'only providers over capacity or holding an allocation that is not active, and only '
                              'consumers that are not active',
                  'summary': 'counts only'}.get(report.get('report'), '')
    body = (f'<h2>Summary</h2>{_placement_summary(summary, removes)}'
            f'<h2>Cells</h2>{cells}'
            + ('<h2>Consumers on more than one provider</h2>'
               + _table(['consumer', 'classifications', 'allocations'], doubled_rows, attrs=' id="doubled"')
               + (f'<p class="more">and {len(doubled) - len(doubled_rows)} more</p>'
                  if len(doubled) > len(doubled_rows) else '') if doubled else '')
            + f'<h2>Providers <span class="muted">({len(providers)} listed: {e(level_note)})</span></h2>'
            + legend + (sections or '<p class="muted">No provider in this report.</p>')
            + (f'<p class="more" id="unlisted">{budget.unlisted} further consumer(s) are counted above but not listed; '
               'the JSON report has them all.</p>' if budget.unlisted else ''))
    return dict(title='Placement audit', verdict=verdict, level=level, body=body, time=None,
                run=lambda check_mode: 'read-only audit (changes nothing)')


def _placement_clean(report):
    changes = report.get('changes') or []
    backups = report.get('backups') or []
    restored = report.get('restored') or []
    check_mode = bool(report.get('check_mode'))
    if restored:
        verdict = (f'{len(restored)} consumer(s) would be restored from a backup (check mode)' if check_mode
                   else f'{len(restored)} consumer(s) restored from a backup')
        level = 'info' if check_mode else 'ok'
    elif changes:
        verdict = (f'{len(changes)} consumer(s) would be changed (check mode: nothing was)' if check_mode
                   else f'{len(changes)} consumer(s) changed; backup: '
                        + (', '.join(str(b.get('path')) for b in backups) or 'none reported'))
        level = 'warn' if check_mode else 'ok'
    else:
        verdict, level = 'nothing to clean', 'ok'
    rows = []
    for change in changes:
        removed = change.get('removed') or {}
        kept = change.get('kept') or {}
        rows.append((
            f'<code>{e(change.get("consumer_uuid"))}</code>', e(change.get('action')),
            '<br>'.join(f'<span class="chip removes">{e(r.get("classification"))}</span> <code>{e(p)}</code>: '
                        f'{resources_text(r.get("resources"))}' for p, r in sorted(removed.items())),
            '<br>'.join(f'<code>{e(p)}</code>: {resources_text(r)}' for p, r in sorted(kept.items())) or '\u2014',
            e(change.get('attempts'))))
    table = _table(['consumer', 'action', 'removed (provider: resources)', 'kept', 'attempts'], rows,
                   numeric=(4,), attrs=' id="changes"').replace('<tr><td>', '<tr class="removes"><td>')
    backup_rows = [(e(b.get('path')), f'<code>{e(b.get("checksum"))}</code>', e(b.get('consumers')))
                   for b in backups]
    summary = report.get('audit_summary') or {}
    body = (f'<h2>{"Planned changes" if check_mode else "Changes"} ({len(changes)})</h2>'
            + (table if changes else '<p class="muted">None.</p>')
            + '<h2>Backups</h2>'
            + (_table(['file', 'checksum', 'consumers'], backup_rows, numeric=(2,), attrs=' id="backups"')
               if backups else '<p class="muted">No backup was needed.</p>')
            + (f'<h2>Restored ({len(restored)})</h2>'
               + _table(['consumer', 'attempts'], [(f'<code>{e(r.get("consumer_uuid"))}</code>', e(r.get('attempts')))
                                                   for r in restored], numeric=(1,), attrs=' id="restored"')
               if restored else '')
            + (f'<h2>The audit the plan was made from</h2>{_placement_summary(summary, CLEANABLE)}' if summary else ''))
    return dict(title='Placement clean', verdict=verdict, level=level, body=body, time=None,
                run=lambda cm: 'check mode: nothing was changed' if cm else 'real run: allocations were changed')


def _fit_bar(reason):
    """A blocking class of a host: used and capacity as in the audit, and the request put on top of what is used."""
    used, capacity, asked = number(reason.get('used')), number(reason.get('capacity')), number(reason.get('requested'))
    width = 240
    scale = max(used + asked, capacity, 1)
    cap_w = round(capacity / scale * width, 1)
    used_w = round(min(used, capacity) / scale * width, 1)
    over_w = round(max(used - capacity, 0) / scale * width, 1)
    asked_x = round(used / scale * width, 1)
    asked_w = round(asked / scale * width, 1)
    return (f'<svg class="bar" width="{width}" height="14" viewBox="0 0 {width} 14" role="img">'
            f'<title>{e(reason.get("resource_class"))}: used {e(used)} of {e(capacity)}, asks {e(asked)}</title>'
            f'<rect class="track" width="{width}" height="14"/><rect class="cap" width="{cap_w}" height="14"/>'
            f'<rect class="used" width="{used_w}" height="14"/>'
            + (f'<rect class="over" x="{cap_w}" width="{over_w}" height="14"/>' if over_w else '')
            + f'<rect class="asked" x="{asked_x}" width="{asked_w}" height="14"/>'
            f'<line x1="{cap_w}" x2="{cap_w}" y1="0" y2="14"/></svg>')


def _placement_fit(report):
    request = report.get('request') or {}
    resources = request.get('resources') or {}
    asked = resources_text(resources) or 'nothing'
    candidates = report.get('candidates') or []
    blocked = report.get('blocked') or []
    if report.get('fits'):
        verdict = (f'fits {e(report.get("total_fits"))} time(s) on {len(candidates)} host(s): '
                   + ', '.join(str(c.get('name')) for c in candidates))
        level = 'ok'
    else:
        verdict, level = f'no host can take {asked}: NoValidHost', 'bad'
    sections = []
    for host in blocked:
        rows = []
        for reason in host.get('reasons') or []:
            if reason.get('capacity') is not None:
                rows.append(
                    f'<div class="rc" data-rc="{e(reason.get("resource_class"))}" data-used="{e(reason.get("used"))}" '
                    f'data-capacity="{e(reason.get("capacity"))}" data-requested="{e(reason.get("requested"))}" '
                    f'data-shortfall="{e(reason.get("shortfall"))}"><b>{e(reason.get("resource_class"))}</b>'
                    f'{_fit_bar(reason)}<span>asks <b>{e(reason.get("requested"))}</b>, used <b class="used">'
                    f'{e(reason.get("used"))}</b> of <b class="capacity">{e(reason.get("capacity"))}</b> '
                    f'(reserved {e(reason.get("reserved"))}, allocation_ratio {e(reason.get("allocation_ratio"))}); '
                    f'<span class="badtext">short by {e(reason.get("shortfall"))}</span>'
                    + (f' on {e(reason.get("provider_name"))}' if reason.get('provider_name') not in (None, host.get('name'))
                       else '') + '</span></div>')
            rows.append(f'<p class="reason">{e(reason.get("reason"))}</p>')
        sections.append(f'<section class="provider over" data-provider="{e(host.get("name"))}" '
                        f'data-uuid="{e(host.get("uuid"))}"><h3>{e(host.get("name"))}</h3>{"".join(rows)}</section>')
    legend = ('<p class="legend"><span><i style="background:#0969da"></i>used</span>'
              '<span><i style="background:#b6e3ff"></i>capacity (total \u2212 reserved) \u00d7 allocation_ratio</span>'
              '<span><i style="background:#bf8700"></i>the request, on top of what is used</span>'
              '<span><i style="background:#cf222e"></i>over capacity</span></p>')
    body = ('<h2>The request</h2><table id="request"><tbody>'
            + ''.join(f'<tr><th>{e(rc)}</th><td class="n" data-rc="{e(rc)}">{e(amount)}</td></tr>'
                      for rc, amount in sorted(resources.items()))
            + f'<tr><th>required traits</th><td>{e(", ".join(request.get("required_traits") or []) or "none")}</td>'
            '</tr></tbody></table>'
            + f'<h2>Hosts that can take it ({len(candidates)})</h2>'
            + (_table(['host', 'how many copies fit'], [(e(c.get('name')), e(c.get('fits'))) for c in candidates],
                      numeric=(1,), attrs=' id="candidates"') if candidates else '<p class="badtext">None.</p>')
            + f'<h2>Hosts that cannot, and why ({len(blocked)})</h2>' + legend
            + (''.join(sections) or '<p class="muted">None.</p>'))
    return dict(title='Why NoValidHost', verdict=verdict, level=level, body=body, time=None,
                run=lambda check_mode: 'read-only (asks Placement, changes nothing)')


# ---------------------------------------------------------------- cells

_FINDING_COLUMNS = (('instance_uuid', 'instance'), ('instance_name', 'name'), ('host', 'host'), ('cell', 'cell'),
                    ('mapped_cell', 'mapped to'), ('vm_state', 'vm_state'), ('task_state', 'task_state'),
                    ('repair', 'repair'), ('message', 'message'))


def _findings(findings, when):
    kinds = {}
    for finding in findings:
        kinds.setdefault(finding.get('type'), []).append(finding)
    parts = []
    for kind in sorted(kinds, key=lambda k: (-len(kinds[k]), str(k))):
        members = kinds[kind]
        columns = [(key, label) for key, label in _FINDING_COLUMNS if any(f.get(key) is not None for f in members)]
        rows = [[(f'<code>{e(f.get(key))}</code>' if key == 'instance_uuid' else e(f.get(key)))
                 for key, _label in columns] for f in members[:LIST_FINDINGS_PER_TYPE]]
        more = len(members) - len(rows)
        parts.append(f'<section class="finding-kind" data-when="{when}" data-kind="{e(kind)}" '
                     f'data-count="{len(members)}">'
                     f'<h3>{e(kind)} <span class="chip">{len(members)}</span></h3>'
                     + _table([label for _key, label in columns], rows)
                     + (f'<p class="more">and {more} more (in the JSON report)</p>' if more else '') + '</section>')
    return ''.join(parts) or '<p class="good">No findings.</p>'


def _cells(report):
    before = report.get('before') or {}
    after = report.get('after') or {}
    summary = before.get('summary') or {}
    findings = number(summary.get('findings'))
    repairs = report.get('repairs') or []
    check_mode = bool(report.get('check_mode'))
    if not findings:
        verdict, level = 'no findings: every mapping agrees with the cells', 'ok'
    else:
        verdict = f'{findings} finding(s), {e(summary.get("repairable"))} repairable'
        if number(summary.get('unreachable_cells')):
            verdict += f'; {summary.get("unreachable_cells")} cell(s) unreachable'
        if repairs:
            verdict += (f'; {len(repairs)} repair(s) planned (check mode)' if check_mode
                        else f'; {len(repairs)} repair(s) made, findings left: '
                             f'{(after.get("summary") or {}).get("findings", "unknown")}')
        left = number((after.get('summary') or {}).get('findings'), findings) if after and not check_mode else findings
        level = 'warn' if left else 'ok'
    cells = _table(['cell', 'read', 'instances', 'instance mappings', 'host mappings', 'compute hosts', 'database',
                    'error'], [
        (e(c.get('name')), '<span class=good>yes</span>' if c.get('reachable') else '<span class=badtext>no</span>',
         e(c.get('instances')), e(c.get('instance_mappings')), e(c.get('host_mappings')), e(c.get('compute_hosts')),
         f'<code>{e(c.get("database_connection"))}</code>', e(c.get('error')))
        for c in before.get('cells') or []], numeric=(2, 3, 4, 5), attrs=' id="cells"')
    counts = _table(['finding', 'count'], [(e(k), e(v)) for k, v in sorted(summary.items())
                                           if k not in ('findings', 'instances', 'instance_mappings', 'repairable',
                                                        'unreachable_cells') and v],
                    numeric=(1,), attrs=' id="finding-counts"')
    repair_rows = [(e(r.get('repair')), e(r.get('table')), f'<code>{e(r.get("instance_uuid") or r.get("host"))}</code>',
                    e(r.get('from_cell')), e(r.get('cell')), e(r.get('applied')), e(r.get('verified')))
                   for r in repairs]
    backup = report.get('backup')
    body = (f'<h2>Summary</h2><table id="summary"><tbody>'
            f'<tr><th>instances</th><td class="n" data-key="instances">{e(summary.get("instances"))}</td></tr>'
            f'<tr><th>findings</th><td class="n" data-key="findings">{e(summary.get("findings"))}</td></tr>'
            f'<tr><th>repairable</th><td class="n" data-key="repairable">{e(summary.get("repairable"))}</td></tr>'
            f'<tr><th>unreachable cells</th><td class="n" data-key="unreachable_cells">'
            f'{e(summary.get("unreachable_cells"))}</td></tr></tbody></table>{counts}'
            f'<h2>Cells</h2>{cells}<h2>Findings by kind</h2>{_findings(before.get("findings") or [], "before")}'
            + (f'<h2>Repairs{" planned" if check_mode else ""}</h2>'
               + _table(['repair', 'table', 'instance or host', 'from cell', 'to cell', 'applied', 'verified'],
                        repair_rows, attrs=' id="repairs"') if repairs else '')
            + (f'<p>Backup relied on: <code>{e(backup.get("id"))}</code> ({e(", ".join(backup.get("databases") or []))}, '
               f'{e(backup.get("age_seconds"))} s old)</p>' if isinstance(backup, dict) else '')
            + (f'<h2>After the repair</h2>{_findings(after.get("findings") or [], "after")}' if after and repairs else ''))
    return dict(title='Nova cells v2 mappings', verdict=verdict, level=level, body=body, time=None,
                run=lambda cm: ('check mode: nothing was changed' if cm else
                                ('real run: mappings were repaired' if repairs else 'audit only (changes nothing)')))


# ---------------------------------------------------------------- conductor recovery


def _timeline(report):
    """The steps on a time axis: a bar from each step's start to its end, its duration beside it."""
    start, end = parse_time(report.get('started')), parse_time(report.get('ended'))
    steps = [s for s in report.get('steps') or [] if parse_time(s.get('started')) and parse_time(s.get('ended'))]
    if not steps:
        return '<p class="muted">No step was recorded.</p>'
    start = start or min(parse_time(s['started']) for s in steps)
    end = end or max(parse_time(s['ended']) for s in steps)
    total = max((end - start).total_seconds(), 0.001)
    label_w, plot_w, row_h = 300, 560, 24
    height = row_h * len(steps) + 40
    failure = report.get('failure') or {}
    rows = []
    for index, step in enumerate(steps):
        s0, s1 = parse_time(step['started']), parse_time(step['ended'])
        x = label_w + (s0 - start).total_seconds() / total * plot_w
        w = max((s1 - s0).total_seconds() / total * plot_w, 2)
        duration = (s1 - s0).total_seconds()
        details = step.get('details') if isinstance(step.get('details'), dict) else {}
        bad = details.get('healthy') is False
        planned = bool(step.get('check_mode')) or details.get('planned') is True
        y = 10 + index * row_h
        rows.append(
            f'<g class="step" data-number="{e(step.get("number"))}" data-duration="{duration:.3f}">'
            f'<text x="0" y="{y + 15}">{e(step.get("number"))}. {e(str(step.get("name"))[:40])}</text>'
            f'<rect class="step{" bad" if bad else ""}{" planned" if planned else ""}" x="{x:.1f}" y="{y + 3}" '
            f'width="{w:.1f}" height="16"><title>{e(step.get("name"))}: {duration:.1f} s</title></rect>'
            f'<text x="{x + w + 4:.1f}" y="{y + 15}">{duration:.1f} s</text></g>')
    axis_y = 10 + len(steps) * row_h + 4
    ticks = []
    for i in range(6):
        seconds = total * i / 5
        tx = label_w + plot_w * i / 5
        ticks.append(f'<line class="axis" x1="{tx:.1f}" x2="{tx:.1f}" y1="{axis_y}" y2="{axis_y + 5}"/>'
                     f'<text x="{tx - 10:.1f}" y="{axis_y + 18}">{seconds:.0f} s</text>')
    fail_at = parse_time(failure.get('at')) if isinstance(failure, dict) else None
    fail_line = ''
    if fail_at:
        fx = label_w + min(max((fail_at - start).total_seconds(), 0), total) / total * plot_w
        fail_line = (f'<line class="fail" x1="{fx:.1f}" x2="{fx:.1f}" y1="0" y2="{axis_y}"/>'
                     f'<text x="{fx + 3:.1f}" y="10" class="badtext">failed</text>')
    return (f'<svg class="timeline" id="timeline" width="{label_w + plot_w + 60}" height="{height}" '
            f'viewBox="0 0 {label_w + plot_w + 60} {height}" role="img">'
            f'<line class="axis" x1="{label_w}" x2="{label_w + plot_w}" y1="{axis_y}" y2="{axis_y}"/>'
            + ''.join(rows) + ''.join(ticks) + fail_line + '</svg>')


def _step_result(step):
    details = step.get('details')
    if not isinstance(details, dict):
        return e(details)
    if step.get('check_mode') or details.get('planned') is True:
        return 'planned'
    if 'healthy' in details:
        return ('<span class=good>healthy</span>' if details['healthy'] else '<span class=badtext>not healthy</span>')
    if 'stopped' in details:
        return ', '.join(f'{e(host)} {e(how)}' for host, how in sorted((details.get('stopped') or {}).items()))
    if 'purged' in details:
        purged = details.get('purged') or {}
        return f'{e(purged.get("messages", 0))} message(s) from {e(purged.get("queues", 0))} queue(s)'
    parts = [f'{e(k)} {e(v)}' for k, v in details.items() if not isinstance(v, (dict, list))]
    return ', '.join(parts)


def _queues(report):
    queues = report.get('queues') or {}
    table = {}
    for when in ('before', 'after'):
        for q in queues.get(when) or []:
            row = table.setdefault((q.get('vhost'), q.get('name')), {})
            row[when] = q
    rows = []
    for (vhost, name), row in sorted(table.items(), key=lambda item: (-number(
            (item[1].get('before') or {}).get('messages')), str(item[0][0]), str(item[0][1])))[:LIST_QUEUES]:
        b, a = row.get('before') or {}, row.get('after') or {}
        rows.append((e(vhost), f'<code>{e(name)}</code>', e(b.get('messages')), e(a.get('messages')),
                     e(b.get('consumers')), e(a.get('consumers'))))
    tb, ta = queues.get('totals_before') or {}, queues.get('totals_after') or {}
    totals = ('<table id="queue-totals"><thead><tr><th></th><th class=n>queues</th><th class=n>messages</th>'
              '<th class=n>consumers</th></tr></thead><tbody>'
              + ''.join(f'<tr data-when="{w}"><th>{w}</th><td class=n>{e(t.get("queues"))}</td>'
                        f'<td class="n messages">{e(t.get("messages"))}</td><td class=n>{e(t.get("consumers"))}</td></tr>'
                        for w, t in (('before', tb), ('after', ta)))
              + '</tbody></table>')
    return totals + _table(['vhost', 'queue', 'messages before', 'after', 'consumers before', 'after'], rows,
                           numeric=(2, 3, 4, 5), attrs=' id="queues"') + (
        f'<p class="more">{len(table) - len(rows)} more queue(s) in the JSON report</p>'
        if len(table) > len(rows) else '')


GMR_TEXT = 4000


def _gmr(gmr):
    """Per conductor, each process's Guru Meditation Report in a line: captured or why not, its threads, the version;
    the first lines of the report folded under it."""
    if not gmr:
        return '<p class="muted" id="gmr">No report was asked for (the run stopped before step 3, or nothing was stopped).</p>'
    rows = []
    for host, run in sorted(gmr.items()):
        run = run if isinstance(run, dict) else {}
        reports = [r for r in run.get('reports') or [] if isinstance(r, dict)]
        if not reports:
            rows.append(f'<tr class="held" data-gmr-host="{e(host)}" data-captured="0"><td><b>{e(host)}</b></td>'
                        f'<td colspan="7" class="badtext">no report: {e(run.get("msg"))}</td></tr>')
            continue
        for r in reports:
            package = r.get('package') if isinstance(r.get('package'), dict) else {}
            text = str(r.get('text') or '')
            got = ('<span class=good>captured</span>' if r.get('captured')
                   else f'<span class=badtext>{e(r.get("reason"))}</span>')
            folded = (f'<details><summary>the report ({e(r.get("bytes"))} bytes'
                      f'{", cut" if r.get("truncated") or len(text) > GMR_TEXT else ""})</summary>'
                      f'<pre class="gmr">{e(text[:GMR_TEXT])}</pre></details>') if text else ''
            rows.append(
                f'<tr{"" if r.get("captured") else " class=held"} data-gmr-host="{e(host)}" data-pid="{e(r.get("pid"))}" '
                f'data-captured="{1 if r.get("captured") else 0}" data-threads="{e(r.get("threads_total"))}" '
                f'data-green-threads="{e(r.get("green_threads_total"))}"><td><b>{e(host)}</b></td>'
                f'<td class=n>{e(r.get("pid"))}</td><td>{e(r.get("state"))}</td>'
                f'<td>{got}'
                f' <span class="muted">({e(run.get("signal"))})</span></td>'
                f'<td class=n>{e(r.get("threads_total"))}</td><td class=n>{e(r.get("green_threads_total"))}</td>'
                f'<td>{e(package.get("product"))} {e(package.get("version"))}</td>'
                f'<td><code>{e(r.get("source"))}</code>{folded}</td></tr>')
    head = ''.join(f'<th{" class=n" if n else ""}>{h}</th>' for h, n in (
        ('controller', 0), ('pid', 1), ('state', 0), ('report', 0), ('threads', 1), ('green threads', 1),
        ('package', 0), ('read from', 0)))
    return f'<table id="gmr"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _recovery_db(db):
    """The database's connections before the recovery, grouped by user, client host, database and command: the
    groups idle past their service's connection_recycle_time (or wait_timeout) or inside a transaction in red."""
    if db is None:
        return '<p class="muted" id="db-connections">Not read (the preflight stopped the run first).</p>'
    if db.get('failed'):
        return f'<p class="badtext" id="db-connections">Not read: {e(db.get("msg"))}</p>'
    totals = db.get('totals') or {}
    variables = db.get('variables') or {}
    wait_timeout = number(variables.get('wait_timeout'), None)
    limits = {svc.get('name'): number(svc.get('connection_recycle_time'), None)
              for svc in db.get('services') or [] if isinstance(svc, dict)}
    rows, held = [], 0
    groups = [g for g in db.get('groups') or [] if isinstance(g, dict)]
    for g in groups[:LIST_GROUPS]:
        limit = limits.get(g.get('service'))
        limit = limit if limit is not None else wait_timeout
        idle = number(g.get('idle_max'), None)
        past = idle is not None and limit is not None and idle > limit
        long_held = past or number(g.get('in_transaction')) > 0
        held += number(g.get('count')) if long_held else 0
        why = '; '.join(([f'idle {idle} s &gt; {e(limit)} s'] if past else [])
                        + ([f'{e(g.get("in_transaction"))} in a transaction'] if number(g.get('in_transaction')) else []))
        rows.append(f'<tr{" class=held" if long_held else ""} data-group-count="{e(g.get("count"))}" '
                    f'data-held="{str(long_held).lower()}"><td>{e(g.get("user"))}</td><td>{e(g.get("host"))}</td>'
                    f'<td>{e(g.get("db"))}</td><td>{e(g.get("command"))}</td><td>{e(g.get("service"))}</td>'
                    f'<td class=n>{e(g.get("count"))}</td><td class=n>{e(g.get("idle_max"))}</td>'
                    f'<td class=n>{e(limit)}</td><td class="badtext">{why}</td></tr>')
    head = ''.join(f'<th{" class=n" if n else ""}>{h}</th>' for h, n in (
        ('user', 0), ('client host', 0), ('database', 0), ('state (command)', 0), ('service', 0), ('count', 1),
        ('longest idle (s)', 1), ('limit (s)', 1), ('why red', 0)))
    findings = [f for f in db.get('findings') or [] if isinstance(f, dict)]
    return (f'<p id="db-connections" data-connections="{e(totals.get("connections"))}" data-held="{held}">'
            f'<b>{e(totals.get("connections"))}</b> client connection(s), {e(totals.get("threads_connected"))} of '
            f'max_connections {e(totals.get("max_connections"))} connected, {e(totals.get("idle"))} idle (longest '
            f'{e(totals.get("idle_max"))} s; wait_timeout {e(wait_timeout)} s), {e(totals.get("transactions"))} open '
            f'transaction(s), {e(totals.get("lock_waits"))} lock wait(s); <span class="{"badtext" if held else "good"}">'
            f'{held} connection(s) held past their limit or in a transaction</span>.</p>'
            + (''.join(f'<p class="warntext finding-line" data-kind="{e(f.get("kind"))}">{e(f.get("kind"))}: '
                       f'{e(f.get("message"))}</p>' for f in findings))
            + f'<table id="db-groups"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            + (f'<p class="more">and {len(groups) - LIST_GROUPS} more group(s) (in the JSON report)</p>'
               if len(groups) > LIST_GROUPS else ''))


def _conductor_recovery(report):
    result = report.get('result')
    failure = report.get('failure')
    level = {'recovered': 'ok', 'nothing to recover': 'ok', 'planned': 'info'}.get(result, 'bad')
    verdict = f'{result}'
    if report.get('duration_s') not in (None, ''):
        verdict += f' in {number(report.get("duration_s")):.1f} s'
    if isinstance(failure, dict):
        verdict += f': {failure.get("msg")}'
    steps = report.get('steps') or []
    stops = next((s.get('details', {}).get('stopped') for s in steps
                  if str(s.get('number')) == '3' and isinstance(s.get('details'), dict)), None) or {}
    step_rows = []
    for step in steps:
        s0, s1 = parse_time(step.get('started')), parse_time(step.get('ended'))
        duration = f'{(s1 - s0).total_seconds():.1f}' if s0 and s1 else '\u2014'
        step_rows.append((e(step.get('number')), e(step.get('name')),
                          e(s0.strftime('%H:%M:%S.%f')[:-3]) if s0 else e(step.get('started')), duration,
                          _step_result(step)))
    conductors = report.get('conductors') or {}
    final = report.get('final_services') or {}
    hosts = sorted(set(conductors) | set(final) | set(stops))
    conductor_rows = []
    for host in hosts:
        c = conductors.get(host) or {}
        healthy = c.get('healthy')
        errors = c.get('log_errors') or []
        conductor_rows.append((
            f'<b>{e(host)}</b>' + (' <span class="chip">VIP holder</span>' if host == report.get('vip_holder') else ''),
            e(stops.get(host)), e(c.get('service')), e(c.get('consumers')),
            (e(c.get('ping')) + (f' ({number(c.get("ping_seconds")):.2f} s)' if c.get('ping_seconds') else ''))
            if c else '\u2014',
            e(len(errors)) + (f'<details><summary>lines</summary><code>{"<br>".join(e(line) for line in errors)}'
                              '</code></details>' if errors else ''),
            ('<span class=good>yes</span>' if healthy else '<span class=badtext>no</span>')
            if healthy is not None else '\u2014',
            e(final.get(host))))
    gmr = report.get('gmr') if isinstance(report.get('gmr'), dict) else {}
    db = report.get('db_connections') if isinstance(report.get('db_connections'), dict) else None
    entrance = report.get('entrance') or {}
    purge = report.get('purge') or {}
    archive = purge.get('archive') if isinstance(purge.get('archive'), dict) else None
    body = (f'<h2>Steps on a time axis</h2>{_timeline(report)}'
            + _table(['step', 'what', 'started', 'seconds', 'result'], step_rows, numeric=(3,), attrs=' id="steps"')
            + f'<p>Configured waits: {e(report.get("configured_waits_s"))} s of {e(report.get("duration_s"))} s.</p>'
            + '<h2>Conductors</h2>'
            + _table(['controller', 'step 3: stopped', 'service after start', 'consumers', 'RPC ping answered',
                      'error lines in log', 'healthy', 'service at the end'], conductor_rows, numeric=(3,),
                     attrs=' id="conductors"')
            + '<h2>Guru Meditation Reports (before step 3 stopped them)</h2>' + _gmr(gmr)
            + '<h2>Database connections before recovery</h2>' + _recovery_db(db)
            + '<h2>Queues before and after</h2>' + _queues(report)
            + '<h2>Purge</h2>'
            + (f'<p id="purge">Purged {e((purge.get("purged") or {}).get("messages", 0))} message(s) from '
               f'{e(len(purge.get("queues") or []))} queue(s)'
               + (f'; archive <code>{e(archive.get("path"))}</code>, {e(archive.get("messages"))} message(s), '
                  f'sha256 <code>{e(archive.get("sha256"))}</code>' if archive else '; no archive') + '.</p>'
               if purge else '<p class="muted">Nothing was purged.</p>')
            + '<h2>The entrance</h2><table id="entrance"><tbody>'
            + ''.join(f'<tr><th>{e(k)}</th><td data-key="{e(k)}">{e(entrance.get(k))}</td></tr>'
                      for k in ('closed', 'closed_verified', 'reopened', 'answers'))
            + f'</tbody></table><p class="{"badtext" if entrance.get("closed") and not entrance.get("reopened") else ""}">'
              f'{"The entrance is STILL CLOSED." if entrance.get("closed") and not entrance.get("reopened") else ""}</p>'
            + f'<h2>Next</h2><p id="next">{e(report.get("next"))}</p>'
            + (f'<p class="badtext">Failed at task {e(failure.get("task"))}: {e(failure.get("msg"))}</p>'
               if isinstance(failure, dict) else ''))
    return dict(title='nova-conductor recovery', verdict=verdict, level=level, body=body, time=report.get('ended'),
                run=lambda cm: 'check mode: nothing was changed (the plan)' if cm else 'real run')


# ---------------------------------------------------------------- request trace

LIST_RECORDS = 500       # timeline rows shown; the JSON and .txt reports have them all
LANE_POINTS = 5000       # records drawn in the swimlanes
LEVEL_CLASS = dict(ERROR='bad', CRITICAL='bad', WARNING='warn')


def _swimlanes(timeline):
    """One lane per host/service on a common time axis, a mark per record (errors red, warnings amber)."""
    points = [(parse_time(r.get('time')), f"{r.get('host')}/{r.get('service')}", r) for r in timeline[:LANE_POINTS]]
    points = [p for p in points if p[0]]
    if not points:
        return '<p class="muted">No record has a time to draw.</p>'
    lanes = list(dict.fromkeys(lane for _t, lane, _r in points))
    start, end = points[0][0], max(t for t, _lane, _r in points)
    total = max((end - start).total_seconds(), 0.001)
    label_w, plot_w, row_h = 300, 560, 22
    axis_y = 10 + len(lanes) * row_h + 4
    counts = {lane: 0 for lane in lanes}
    marks = []
    for when, lane, record in points:
        counts[lane] += 1
        x = label_w + (when - start).total_seconds() / total * plot_w
        y = 10 + lanes.index(lane) * row_h
        head = (record.get('message') or '').split('\n', 1)[0][:300]
        marks.append(f'<rect class="mark {LEVEL_CLASS.get(record.get("level"), "")}" x="{x:.1f}" y="{y + 3}" '
                     f'width="3" height="16"><title>{e(record.get("time"))} {e(record.get("level"))} '
                     f'{e(head)}</title></rect>')
    labels = ''.join(f'<g class="lane" data-lane="{e(lane)}" data-records="{counts[lane]}">'
                     f'<line class="lane" x1="{label_w}" x2="{label_w + plot_w}" y1="{10 + i * row_h + 11}" '
                     f'y2="{10 + i * row_h + 11}"/><text x="0" y="{10 + i * row_h + 15}">{e(lane[:42])} '
                     f'({counts[lane]})</text></g>' for i, lane in enumerate(lanes))
    ticks = ''.join(f'<line class="axis" x1="{label_w + plot_w * i / 5:.1f}" x2="{label_w + plot_w * i / 5:.1f}" '
                    f'y1="{axis_y}" y2="{axis_y + 5}"/><text x="{label_w + plot_w * i / 5 - 10:.1f}" '
                    f'y="{axis_y + 18}">{total * i / 5:.1f} s</text>' for i in range(6))
    height = axis_y + 26
    more = (f'<p class="more">The first {LANE_POINTS} of {len(timeline)} records are drawn.</p>'
            if len(timeline) > LANE_POINTS else '')
    return (f'<svg class="timeline lanes" id="swimlanes" width="{label_w + plot_w + 60}" height="{height}" '
            f'viewBox="0 0 {label_w + plot_w + 60} {height}" role="img">'
            f'<line class="axis" x1="{label_w}" x2="{label_w + plot_w}" y1="{axis_y}" y2="{axis_y}"/>'
            f'{labels}{"".join(marks)}{ticks}</svg>'
            f'<p class="muted">0 s = {e(start.isoformat())}; hover a mark for its line.</p>{more}')


def _funnel(run):
    """A scheduler run as a funnel: the hosts it started with, then what each filter left."""
    steps = ([('hosts in', run.get('hosts_in'))] if run.get('hosts_in') is not None else []) + [
        (f.get('name'), f.get('hosts')) for f in run.get('filters') or []]
    widest = max([number(count) for _name, count in steps] + [1])
    rows = []
    for i, (name, count) in enumerate(steps):
        width = max(number(count) / widest * 360, 2)
        rows.append(f'<g class="filter" data-filter="{e(name)}" data-hosts="{e(count)}">'
                    f'<text x="0" y="{i * 20 + 14}">{e(name)}</text>'
                    f'<rect class="{"over" if number(count) == 0 else "used"}" x="220" y="{i * 20 + 3}" '
                    f'width="{width:.1f}" height="14"/><text x="{224 + width:.1f}" y="{i * 20 + 14}">{e(count)}</text></g>')
    svg = (f'<svg class="bar funnel" width="640" height="{len(steps) * 20 + 6}" role="img">{"".join(rows)}</svg>'
           if steps else '<p class="muted">No filter line was found for this run.</p>')
    outcome = (f'<p>Selected: <b data-key="selected">{e(", ".join(run.get("selected") or []))}</b></p>'
               if run.get('selected') else '')
    if run.get('emptied_by'):
        outcome += f'<p class="badtext" data-key="emptied_by">No host left after filter {e(run["emptied_by"])}.</p>'
    if run.get('weighed'):
        outcome += f'<details><summary>Weighed hosts</summary><code>{e(run["weighed"])}</code></details>'
    return (f'<section class="scheduling" data-request="{e(run.get("request_id"))}">'
            f'<h3>{e(run.get("host"))}/{e(run.get("service"))} at {e(run.get("started"))}, request '
            f'<code>{e(run.get("request_id"))}</code> (global <code>{e(run.get("global_request_id"))}</code>)</h3>'
            f'{svg}{outcome}</section>')


def _trace(report):
    summary = report.get('summary') or {}
    timeline = report.get('timeline') or []
    records = number(summary.get('records'), len(timeline))
    faults = summary.get('faults') or []
    selected = summary.get('selected_hosts') or []
    start = ', '.join(str(term) for term in report.get('start') or []) or 'the patterns given'
    if not records:
        verdict, level = f'nothing found for {start}', 'warn'
    else:
        verdict = f'{records} record(s) on {len(summary.get("hosts") or [])} host(s)'
        verdict += f'; scheduled to {", ".join(selected)}' if selected else ''
        if faults:
            verdict, level = verdict + f'; {len(faults)} error or fault line(s)', 'bad'
        elif not report.get('complete', True):
            verdict, level = verdict + '; ids were left unsearched (raise the round limit)', 'warn'
        else:
            level = 'ok'
    asked = _table(['', ''], [
        ('started from', f'<code data-key="start">{e(start)}</code>'),
        ('rounds', f'<span data-key="rounds">{e(report.get("rounds"))}</span>'),
        ('complete', e(report.get('complete'))),
        ('ids left unsearched', e(len(report.get('not_searched') or []))),
        ('hosts searched', e(', '.join(report.get('hosts') or summary.get('hosts') or []))),
        ('hosts not searched (unreachable)', e(', '.join(report.get('hosts_not_searched') or [])) or '\u2014'),
        ('hosts whose output was cut', e(', '.join(report.get('truncated_hosts') or [])) or '\u2014'),
        ('services never reached', e(', '.join(summary.get('not_reached') or [])) or '\u2014'),
    ], attrs=' id="asked"')
    api = _table(['time', 'host', 'call', 'status', 'request id'], [
        (e(c.get('time')), e(c.get('host')), f'<code>{e(c.get("method"))} {e(c.get("path"))}</code>',
         f'<span class="{"badtext" if number(c.get("status")) >= 400 else "good"}">{e(c.get("status"))}</span>',
         f'<code>{e(c.get("request_id"))}</code>') for c in summary.get('api') or []], numeric=(3,), attrs=' id="api"')
    actions = ''.join(f'<li>{e(a.get("time"))} {e(a.get("host"))}: action <b>{e(a.get("action"))}</b> '
                      f'<code>{e(a.get("body"))}</code></li>' for a in summary.get('actions') or [])
    fault_rows = [(e(f.get('time')), e(f.get('host')), e(f.get('service')), e(f.get('level')), e(f.get('message')))
                  for f in faults]
    rows = [(e(r.get('time')), e(r.get('host')), e(r.get('service')),
             f'<span class="{LEVEL_CLASS.get(r.get("level"), "") + "text" if r.get("level") in LEVEL_CLASS else ""}">'
             f'{e(r.get("level"))}</span>', f'<code>{e(r.get("request_id"))}</code>',
             e((r.get('message') or '').split('\n', 1)[0][:400])) for r in timeline[:LIST_RECORDS]]
    body = (f'<h2>What was asked</h2>{asked}'
            f'<h2>API calls</h2>{api}' + (f'<ul id="actions">{actions}</ul>' if actions else '')
            + '<h2>Scheduling</h2>'
            + (''.join(_funnel(run) for run in summary.get('scheduling') or [])
               or '<p class="muted">No scheduler run in these records.</p>')
            + (f'<p>Computes involved: <span id="computes">{e(", ".join(summary.get("computes") or []))}</span></p>')
            + '<h2>Errors and faults</h2>'
            + (_table(['time', 'host', 'service', 'level', 'line'], fault_rows, attrs=' id="faults"') if fault_rows
               else '<p class="good" id="faults">No error or fault line.</p>')
            + f'<h2>Swimlanes</h2>{_swimlanes(timeline)}'
            + '<h2>Timeline</h2>'
            + _table(['time', 'host', 'service', 'level', 'request id', 'line'], rows, attrs=' id="records"')
            + (f'<p class="more">{len(timeline) - LIST_RECORDS} more record(s) in the JSON and .txt reports.</p>'
               if len(timeline) > LIST_RECORDS else ''))
    return dict(title='Request trace', verdict=verdict, level=level, body=body, time=summary.get('last'),
                run=lambda _cm: 'read-only search of the logs (changes nothing)')


# ---------------------------------------------------------------- tuning (tune_* runbooks)


def _fact(value):
    """A value read, as one line: a dict as 'key value, ...', a list joined."""
    if isinstance(value, dict):
        return ', '.join(f'{e(k)} {_fact(v)}' for k, v in value.items()) or '\u2014'
    if isinstance(value, (list, tuple)):
        return ', '.join(_fact(v) for v in value) or 'none'
    return e(value)


def _facts(facts, attrs=''):
    """What a run read (a dict), as a two-column table; empty when there is nothing."""
    if not isinstance(facts, dict) or not facts:
        return ''
    return (f'<table{attrs}><tbody>' + ''.join(f'<tr><th>{e(k)}</th><td data-key="{e(k)}">{_fact(v)}</td></tr>'
                                               for k, v in facts.items()) + '</tbody></table>')


def _tuning(report):
    hosts = [h for h in report.get('hosts') or [] if isinstance(h, dict)]
    check_mode = bool(report.get('check_mode'))
    changed = sum(len(h.get('changed_settings') or []) for h in hosts)
    restarted = sum(len(h.get('restarted') or []) for h in hosts)
    failed = [h.get('host') for h in hosts if h.get('result') == 'failed']
    shorter = [w for h in hosts for w in h.get('waits') or [] if isinstance(w, dict) and w.get('shorter')]
    if not hosts:
        verdict, level = 'no host was tuned', 'warn'
    elif failed:
        verdict, level = f'failed on {", ".join(str(h) for h in failed)} after {changed} change(s)', 'bad'
    elif not changed:
        verdict, level = f'nothing to change on {len(hosts)} host(s): every setting already in force', 'ok'
    else:
        verdict = (f'{changed} setting(s) {"to change" if check_mode else "changed"} on '
                   f'{sum(1 for h in hosts if h.get("changed_settings"))} of {len(hosts)} host(s), '
                   f'{restarted} service(s) {"to restart" if check_mode else "restarted"}')
        level = 'info' if check_mode else 'ok'
    if shorter:
        verdict, level = verdict + f'; {len(shorter)} wait(s) got SHORTER', 'bad'
    sections = []
    for host in hosts:
        settings = [s for s in host.get('settings') or [] if isinstance(s, dict)]
        rows = [(f'<code>[{e(s.get("section"))}] {e(s.get("option"))}</code>', f'<code>{e(s.get("path"))}</code>',
                 e(s.get('before')) if s.get('before') is not None else '<span class=muted>unset</span>',
                 f'<b>{e(s.get("after"))}</b>' if s.get('changed') else e(s.get('after')),
                 ('<span class=muted>skipped</span>' if s.get('skipped') else
                  ('changes' if check_mode else 'changed') if s.get('changed') else 'already so'),
                 e(', '.join(s.get('services') or [])))
                for s in settings]
        waits = [(e(w.get('name')), f'<code>{e(w.get("path"))}</code>', e((w.get('before') or {}).get('total')),
                  e((w.get('after') or {}).get('total')),
                  '<span class=badtext>yes</span>' if w.get('shorter') else 'no', e(w.get('summary')))
                 for w in host.get('waits') or [] if isinstance(w, dict)]
        backups = [f.get('backup_file') for f in host.get('files') or [] if isinstance(f, dict) and f.get('backup_file')]
        backups += [host['backup_file']] if host.get('backup_file') and host['backup_file'] not in backups else []
        sections.append(
            f'<section class="host" data-host="{e(host.get("host"))}" data-changed="{len(host.get("changed_settings") or [])}">'
            f'<h3>{e(host.get("host"))}: {e(host.get("result"))}</h3>'
            + (f'<h4>Read</h4>{_facts(host.get("read"), attrs=" class=read")}' if host.get('read') else '')
            + _table(['setting', 'file', 'before', 'after', '', 'read by'], rows)
            + (('<h4>Waits, in total seconds</h4>'
                + _table(['wait', 'file', 'before', 'after', 'shorter', ''], waits, numeric=(2, 3))) if waits else '')
            + f'<p>{"To restart" if check_mode else "Restarted"}: '
              f'<span data-key="restarted">{e(", ".join(host.get("restarted") or [])) or "nothing"}</span>'
            + (f'; not running (reads the file when started): {e(", ".join(host["not_running"]))}'
               if host.get('not_running') else '') + '</p>'
            + (f'<p>Backups: {", ".join(f"<code>{e(b)}</code>" for b in backups)}</p>' if backups else '')
            + '</section>')
    body = (f'<p>Mode: <b>{e(report.get("mode"))}</b>. Every setting is listed with its value in the file before and '
            f'after the run; a value set to what it already was is left alone.</p>'
            + (f'<h2>Read</h2>{_facts(report.get("read"), attrs=" id=read")}' if report.get('read') else '')
            + (''.join(sections) or '<p class="muted">No host reached the write step.</p>')
            + (f'<h2>Next</h2><p id="next">{e(report.get("next"))}</p>' if report.get('next') else ''))
    return dict(title=f'{report.get("runbook") or "tuning"}: settings before and after', verdict=verdict, level=level,
                body=body, time=report.get('ended'),
                run=lambda cm: 'check mode: nothing was changed (the plan)' if cm else 'real run')


# ---------------------------------------------------------------- instance triage

VERDICT_LEVEL = dict(healthy='ok', in_progress='info', building='info', deleted='info', attention='warn',
                     stuck='bad', error='bad', host_down='bad', not_found='warn')


def _triage_instance(item):
    step = item.get('step') or {}
    service = item.get('host_service') or {}
    faults = [f for f in item.get('faults') or [] if isinstance(f, dict)]
    actions = [a for a in item.get('actions') or [] if isinstance(a, dict)]
    level = VERDICT_LEVEL.get(item.get('verdict'), 'warn')
    facts = _table(['', ''], [
        ('verdict', f'<b class="{ {"bad": "badtext", "ok": "good"}.get(level, "") }" data-key="verdict">'
                    f'{e(item.get("verdict"))}</b>'),
        ('states', f'vm_state {e(item.get("vm_state"))}, task_state {e(item.get("task_state"))} for '
                   f'{e(item.get("state_age_seconds"))} s'),
        ('cell', f'{e(item.get("cell"))}{" (cell0: failed before it had a host)" if item.get("cell0") else ""}'),
        ('host', e(item.get('host'))),
        ('host service', (f'{"<span class=good>up</span>" if service.get("up") else "<span class=badtext>down</span>"}'
                          f'{", disabled" if service.get("disabled") else ""}'
                          f'{", forced down" if service.get("forced_down") else ""}, last report '
                          f'{e(service.get("last_report_age_seconds"))} s ago') if service else '\u2014'),
        ('step', (f'<b data-key="step">{e(step.get("name"))}</b> (seed 004 steps {e(step.get("seed_steps"))}): '
                  f'{e(step.get("what"))}; read {e(", ".join(step.get("services") or []))}') if step else '\u2014'),
        ('problems', '<br>'.join(e(p) for p in item.get('problems') or []) or '\u2014'),
    ])
    look = _table(['service', 'host', 'logs'], [
        (e(w.get('service')), e(w.get('host')), '<br>'.join(f'<code>{e(p)}</code>' for p in w.get('logs') or [])
         if isinstance(w.get('logs'), list) else f'<code>{e(w.get("logs") or w.get("paths"))}</code>')
        for w in item.get('where_to_look') or [] if isinstance(w, dict)])
    action_rows = [(e(a.get('start_time')), e(a.get('action')), f'<code>{e(a.get("request_id"))}</code>',
                    e(a.get('message')), '<br>'.join(f'{e(ev.get("event"))}: {e(ev.get("result"))}'
                                                     for ev in a.get('events') or [] if isinstance(ev, dict)))
                   for a in actions]
    fault_rows = [(e(f.get('created_at')), e(f.get('code')), e(f.get('message')),
                   f'<details><summary>details</summary><code>{e(f.get("details"))}</code></details>'
                   if f.get('details') else '') for f in faults]
    allocations = (item.get('allocations') or {}).get('providers') or {}
    allocation_rows = [(e(p.get('name') or uuid), resources_text(p.get('resources'))) for uuid, p in allocations.items()
                       if isinstance(p, dict)]
    return (f'<section class="instance" data-instance="{e(item.get("instance_uuid"))}" '
            f'data-verdict="{e(item.get("verdict"))}"><h3>{e(item.get("name") or "")} '
            f'<code>{e(item.get("instance_uuid"))}</code></h3><p>{e(item.get("summary"))}</p>{facts}'
            + (f'<h4>Where to look</h4>{look}' if item.get('where_to_look') else '')
            + ('<h4>Faults</h4>' + _table(['time', 'code', 'message', ''], fault_rows, attrs=' class="faults"')
               if fault_rows else '')
            + ('<h4>Actions and their request ids</h4>'
               + _table(['started', 'action', 'request id', 'message', 'events'], action_rows) if action_rows else '')
            + ('<h4>Placement allocations</h4>' + _table(['provider', 'resources'], allocation_rows)
               if allocation_rows else '')
            + '</section>')


def _triage(report):
    instances = [i for i in report.get('instances') or [] if isinstance(i, dict)]
    verdicts = (report.get('summary') or {}).get('verdicts') or {}
    worst = max((VERDICT_LEVEL.get(i.get('verdict'), 'warn') for i in instances),
                key=('ok', 'info', 'warn', 'bad').index, default='warn')
    verdict = (', '.join(f'{count} {name}' for name, count in sorted(verdicts.items())) if verdicts
               else 'no instance to triage')
    terms = report.get('trace_request_terms') or []
    body = (''.join(_triage_instance(item) for item in instances)
            + (f'<h2>Follow it through the logs</h2><p id="trace"><code>ansible-playbook '
               f'openstack_ops.runbooks.trace_request -e trace_request_terms={e(",".join(terms[:20]))}</code></p>'
               if terms else '')
            + f'<p class="muted">{e(report.get("service_rule"))}</p>')
    return dict(title='Instance triage', verdict=verdict, level=worst if instances else 'warn', body=body,
                time=report.get('checked_at'), run=lambda _cm: 'read-only (changes nothing)')


# ---------------------------------------------------------------- database connections

LIST_GROUPS = 100


def _db_node(host, node):
    if node.get('failed'):
        return (f'<section class="provider over" data-node="{e(host)}" data-failed="true"><h3>{e(host)}</h3>'
                f'<p class="badtext">Not read: {e(node.get("msg"))}</p></section>')
    totals = node.get('totals') or {}
    status = node.get('status') or {}
    variables = node.get('variables') or {}
    figures = [('connections', 'client connections', totals.get('connections')),
               ('threads_connected', 'threads connected', totals.get('threads_connected')),
               ('max_connections', 'max_connections', totals.get('max_connections')),
               ('idle', 'idle', totals.get('idle')), ('idle_max', 'longest idle (s)', totals.get('idle_max')),
               ('wait_timeout', 'wait_timeout (s)', variables.get('wait_timeout')),
               ('transactions', 'open transactions', totals.get('transactions')),
               ('lock_waits', 'lock waits', totals.get('lock_waits')),
               ('aborted_clients', 'Aborted_clients', status.get('aborted_clients'))]
    summary = ('<table class="node-summary"><tbody>' + ''.join(
        f'<tr><th>{e(label)}</th><td class="n" data-key="{key}">{e(value)}</td></tr>' for key, label, value in figures)
        + '</tbody></table>')
    findings = node.get('findings') or []
    finding_rows = [(e(f.get('kind')), e(f.get('service')), e(f.get('count')), e(f.get('message'))) for f in findings]
    groups = node.get('groups') or []
    group_rows = [(e(g.get('user')), e(g.get('host')), e(g.get('db')), e(g.get('command')), e(g.get('service')),
                   e(g.get('count')), e(g.get('idle_max')), e(g.get('in_transaction'))) for g in groups[:LIST_GROUPS]]
    trx_rows = [(e(t.get('thread_id')), e(t.get('user')), e(t.get('db')), e(t.get('state')), e(t.get('age')),
                 e(t.get('idle')), e(t.get('rows_locked')), f'<code>{e(t.get("query"))}</code>')
                for t in node.get('transactions') or []]
    wait_rows = [(e(w.get('waiting_thread')), e(w.get('waiting_seconds')), e(w.get('blocking_thread')),
                  e(w.get('blocking_idle')), e(w.get('lock_table')), e(w.get('lock_index')),
                  f'<code>{e(w.get("waiting_query"))}</code>') for w in node.get('lock_waits') or []]
    missing = node.get('missing') or {}
    server = node.get('server') or {}
    return (f'<section class="provider{" over" if findings else ""}" data-node="{e(host)}" '
            f'data-findings="{len(findings)}"><h3>{e(host)} <span class="muted">{e(server.get("where"))}, '
            f'{e(server.get("version"))}</span></h3>{summary}'
            + ('<h3>Findings</h3>' + _table(['kind', 'service', 'count', 'what it means'], finding_rows,
                                            numeric=(2,), attrs=' class="findings"')
               if findings else '<p class="good">No findings.</p>')
            + '<h3>Connections per user, host, database and command</h3>'
            + _table(['user', 'client host', 'database', 'command', 'service', 'count', 'longest idle (s)',
                      'in a transaction'], group_rows, numeric=(5, 6, 7), attrs=' class="groups"')
            + (f'<p class="more">and {len(groups) - LIST_GROUPS} more group(s) (in the JSON report)</p>'
               if len(groups) > LIST_GROUPS else '')
            + ('<h3>Open transactions</h3>' + _table(['thread', 'user', 'database', 'state', 'age (s)', 'idle',
                                                      'rows locked', 'query'], trx_rows, numeric=(0, 4, 6),
                                                     attrs=' class="transactions"') if trx_rows else '')
            + ('<h3>Lock waits</h3>' + _table(['waiting thread', 'waiting (s)', 'blocked by thread', 'blocker idle',
                                               'table', 'index', 'waiting query'], wait_rows, numeric=(0, 1, 2),
                                              attrs=' class="lock-waits"') if wait_rows else '')
            + (''.join(f'<p class="muted">Not seen - {e(what)}: {e(why)}</p>' for what, why in sorted(missing.items())
                       if what != 'per_thread_wait_timeout'))
            + '</section>')


def _db_connections(report):
    nodes = report.get('nodes') or {}
    failed = report.get('failed_nodes') or []
    findings = sum(len(node.get('findings') or []) for node in nodes.values())
    kinds = report.get('finding_kinds') or []
    if failed:
        verdict, level = f'{len(failed)} of {len(nodes)} node(s) could not be read: {", ".join(failed)}', 'bad'
    elif findings:
        verdict, level = f'{findings} finding(s) on {len(nodes)} node(s): {", ".join(kinds)}', 'warn'
    else:
        verdict, level = f'no findings on {len(nodes)} node(s)', 'ok'
    body = ('<h2>Nodes</h2><p>Seed 003: many long-held connections, cut under the services\' pools by MariaDB\'s '
            'wait_timeout or haproxy\'s timeouts.</p>'
            + ''.join(_db_node(host, node) for host, node in sorted(nodes.items())))
    return dict(title='Database connections', verdict=verdict, level=level, body=body, time=report.get('generated'),
                run=lambda cm: 'check mode: read-only (nothing is ever changed)' if cm else 'read-only inventory')


# ---------------------------------------------------------------- cloud check-up (openstack_ops.checkup/v1)

SEVERITY_ORDER = ('critical', 'high', 'medium', 'low', 'info')
SEVERITY_LEVEL = dict(critical='bad', high='bad', medium='warn', low='info', info='info')
LIST_EVIDENCE = 20


def _evidence(value, depth=0):
    """A finding's evidence, whatever its shape: a dict as a table of its keys, a list of dicts as a table of their
    keys, other lists joined; at most LIST_EVIDENCE entries of each, the rest counted."""
    if isinstance(value, dict):
        if not value:
            return '\u2014'
        if depth >= 3:
            return f'<code>{e(value)}</code>'
        return ('<table class="evidence"><tbody>' + ''.join(
            f'<tr><th>{e(k)}</th><td data-key="{e(k)}">{_evidence(v, depth + 1)}</td></tr>'
            for k, v in list(value.items())[:LIST_EVIDENCE * 2]) + '</tbody></table>')
    if isinstance(value, (list, tuple)):
        more = (f' <span class="more">and {len(value) - LIST_EVIDENCE} more</span>'
                if len(value) > LIST_EVIDENCE else '')
        shown = list(value)[:LIST_EVIDENCE]
        if shown and all(isinstance(v, dict) for v in shown) and depth < 3:
            keys = []
            for item in shown:
                keys += [k for k in item if k not in keys]
            return _table([e(k) for k in keys], [[_evidence(item.get(k), depth + 1) for k in keys] for item in shown],
                          attrs=' class="evidence"') + more
        return (', '.join(_evidence(v, depth + 1) for v in shown) or 'none') + more
    return e(value)


def _checkup_finding(finding, marks):
    key = f'{finding.get("id")} {finding.get("subject")}'
    mark = ''.join(f' <span class="chip {m}">{m}</span>' for m in marks.get(key, ()))
    seeds = ', '.join(str(seed) for seed in finding.get('seeds') or [])
    return (f'<div class="finding {e(finding.get("severity"))}" data-id="{e(finding.get("id"))}" '
            f'data-subject="{e(finding.get("subject"))}" data-severity="{e(finding.get("severity"))}" '
            f'data-value="{e(finding.get("value"))}">'
            f'<p><span class="chip {e(finding.get("severity"))}">{e(finding.get("severity"))}</span>{mark} '
            f'<b>{e(finding.get("title"))}</b></p>'
            f'<p class="muted"><code>{e(finding.get("id"))}</code> on <b>{e(finding.get("subject"))}</b>'
            f'{f"; seed {e(seeds)}" if seeds else ""}; value <b class="value">{e(finding.get("value"))}</b></p>'
            + (f'<details><summary>evidence</summary>{_evidence(finding.get("evidence"))}</details>'
               if finding.get('evidence') not in (None, '', {}, []) else '')
            + (f'<p>Remedy: <code class="fix">{e(finding.get("fix"))}</code></p>' if finding.get('fix') else '')
            + '</div>')


def _checkup(report):
    summary = report.get('summary') if isinstance(report.get('summary'), dict) else {}
    findings = [f for f in report.get('findings') or [] if isinstance(f, dict)]
    checks = [c for c in report.get('checks') or [] if isinstance(c, dict)]
    trend = report.get('trend') if isinstance(report.get('trend'), dict) else None
    fail_on = report.get('fail_on')
    not_run = [c for c in checks if c.get('status') == 'not_run']
    highest = summary.get('highest')
    if summary.get('gate_failed'):
        verdict, level = (f'{len(findings)} finding(s), the highest {highest}: at or above checkup_fail_on '
                          f'({fail_on}), the gate fails'), 'bad'
    elif findings:
        verdict, level = (f'{len(findings)} finding(s), the highest {highest}: below checkup_fail_on ({fail_on}), '
                          'the gate passes'), 'warn'
    else:
        verdict, level = f'no finding in {summary.get("checks_run", 0)} check(s)', 'ok'
    if not_run:
        verdict += f'; {len(not_run)} check(s) not run: {", ".join(str(c.get("id")) for c in not_run)}'
        level = 'bad' if level == 'bad' else 'warn'
    marks = {}
    for mark in ('new', 'worse'):
        for key in (trend or {}).get(mark) or []:
            marks.setdefault(key, []).append(mark)
    severities = [s for s in SEVERITY_ORDER if any(f.get('severity') == s for f in findings)]
    severities += sorted({str(f.get('severity')) for f in findings} - set(SEVERITY_ORDER))
    by_severity = summary.get('by_severity') if isinstance(summary.get('by_severity'), dict) else {}
    counts = ''.join(f'<tr data-severity="{e(sev)}"><th>{e(sev)}</th><td class="n count">{e(by_severity.get(sev, 0))}'
                     '</td></tr>' for sev in SEVERITY_ORDER if sev in by_severity)
    parts = []
    for severity in severities:
        members = [f for f in findings if str(f.get('severity')) == severity]
        groups = []
        for f in members:
            if f.get('group') not in groups:
                groups.append(f.get('group'))
        parts.append(f'<section class="severity" data-severity="{e(severity)}" data-count="{len(members)}">'
                     f'<h3><span class="chip {e(severity)}">{e(severity)}</span> {len(members)} finding(s)</h3>'
                     + ''.join(
                         f'<div class="group" data-group="{e(group)}" data-count="{sum(1 for f in members if f.get("group") == group)}">'
                         f'<h4>{e(group)}</h4>'
                         + ''.join(_checkup_finding(f, marks) for f in members if f.get('group') == group) + '</div>'
                         for group in groups) + '</section>')
    check_rows = [(f'<code>{e(c.get("id"))}</code>', e(c.get('group')), e(', '.join(str(s) for s in c.get('seeds') or [])),
                   e(c.get('what')),
                   ('<span class="badtext">not run</span>' if c.get('status') == 'not_run' else e(c.get('status'))),
                   e(c.get('findings')), e(c.get('why')) if c.get('status') == 'not_run'
                   else e(c.get('highest')) + (f'; not run on: {e(c.get("why"))}' if c.get('why') else ''))
                  for c in checks]
    partly = [c for c in checks if c.get('hosts_run') and c.get('not_run_hosts')]
    trend_html = ''
    if trend:
        trend_html = (f'<h2>Since the previous run ({e(trend.get("previous"))})</h2><table id="trend"><tbody>'
                      + ''.join(f'<tr data-trend="{m}"><th><span class="chip {m}">{m}</span></th>'
                                f'<td class="n count">{len(trend.get(m) or [])}</td>'
                                f'<td>{"<br>".join(f"<code>{e(k)}</code>" for k in (trend.get(m) or [])[:LIST_EVIDENCE])}'
                                f'{" …" if len(trend.get(m) or []) > LIST_EVIDENCE else ""}</td></tr>'
                                for m in ('new', 'worse', 'fixed'))
                      + f'<tr data-trend="same"><th>unchanged</th><td class="n count">{e(trend.get("same"))}</td><td></td>'
                        '</tr></tbody></table>')
    body = (f'<h2>Summary</h2><table id="summary"><tbody>{counts}'
            f'<tr><th>checks run</th><td class="n" data-key="checks_run">{e(summary.get("checks_run"))}</td></tr>'
            f'<tr><th>not run</th><td class="n" data-key="not_run">{len(not_run)}</td></tr>'
            f'<tr><th>gate (checkup_fail_on)</th><td data-key="gate">{e(fail_on)}: '
            f'{"<span class=badtext>fails</span>" if summary.get("gate_failed") else "passes"}</td></tr></tbody></table>'
            + '<h2>Findings, by severity then group</h2>'
            + (''.join(parts) or '<p class="good">No finding.</p>')
            + ('<h2>Checks not run</h2><ul id="not-run">' + ''.join(
                f'<li data-check="{e(c.get("id"))}"><code>{e(c.get("id"))}</code>: {e(c.get("why"))}</li>'
                for c in not_run) + '</ul>' if not_run else '')
            + ('<h2>Checks that ran on some hosts only</h2><ul id="partly-run">' + ''.join(
                f'<li data-check="{e(c.get("id"))}"><code>{e(c.get("id"))}</code> ran on '
                f'{e(", ".join(c.get("hosts_run")))}; not on: {e(c.get("why"))}</li>'
                for c in partly) + '</ul>' if partly else '')
            + trend_html
            + '<h2>Checks</h2>' + _table(['check', 'group', 'seeds', 'looks for', 'status', 'findings',
                                          'highest / why not run'], check_rows, numeric=(5,), attrs=' id="checks"'))
    return dict(title='Cloud check-up', verdict=verdict, level=level, body=body,
                time=report.get('ended') or report.get('started'),
                run=lambda cm: 'check mode: read-only (the check-up never changes anything)' if cm
                else 'read-only check-up (changes nothing)')
