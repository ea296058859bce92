"""Subcommands that put a search to use: eval (held-out verdict), report, dashboard, serve."""
from __future__ import annotations

import argparse

from rich.table import Table

from promptsearch import service
from promptsearch.cli import display
from promptsearch.cli.args import ranged
from promptsearch.errors import UserError
from promptsearch.serve.server import ROLES as SERVER_ROLES
from promptsearch.service.hooks import plural
from promptsearch.storage import mask_url

console = display.console


def add_parsers(sub, common) -> None:
    ev = sub.add_parser("eval", parents=[common],
                        help="score the best prompt and a baseline on held-out data, with confidence intervals")
    ev.set_defaults(func=evaluate)
    ev.add_argument("name")
    ev.add_argument("--split", default="test", choices=("test", "dev"), help="split to score (default: test)")
    ev.add_argument("--baseline", default="first",
                    help="'first' (the search's first completed trial) or a prompt JSON file "
                         "(as `export --format json` writes)")
    ev.add_argument("--limit", type=ranged("--limit", "limit"), help="score the first N examples of the split only")
    ev.add_argument("--seed", type=ranged("--seed", "seed"), default=0,
                    help="seed of the resampled intervals and permutations")
    ev.add_argument("--resamples", type=ranged("--resamples", "resamples"), default=2000,
                    help="resamples of each confidence interval")
    ev.add_argument("--api-base", help="remote models: the server's URL, if it moved since the search")
    ev.add_argument("--concurrency", type=ranged("--concurrency", "concurrency"),
                    help="remote models: requests in flight at once (default: the search's setting)")

    pr = sub.add_parser("probe", parents=[common],
                        help="do the best prompt's demos teach the label mapping or only the format? re-score "
                             "it with shuffled, random and no demo labels")
    pr.set_defaults(func=probe)
    pr.add_argument("name")
    pr.add_argument("--split", default="dev", choices=("dev", "test"), help="split to score (default: dev)")
    pr.add_argument("--limit", type=ranged("--limit", "limit"), help="score the first N examples of the split only")
    pr.add_argument("--seed", type=ranged("--seed", "seed"), default=0,
                    help="seed of the label shuffles and draws, and of the resampled intervals")
    pr.add_argument("--resamples", type=ranged("--resamples", "resamples"), default=2000,
                    help="resamples of each confidence interval")
    pr.add_argument("--api-base", help="remote models: the server's URL, if it moved since the search")

    rep = sub.add_parser("report", parents=[common], help="write a self-contained HTML report of a search")
    rep.set_defaults(func=report)
    rep.add_argument("name")
    rep.add_argument("-o", "--output", help="HTML file to write (default: <name>-report.html)")
    rep.add_argument("--top", type=ranged("--top", "top"), default=10, help="top candidates to show in full")
    rep.add_argument("--force", action="store_true", help="overwrite an existing -o file")

    dash = sub.add_parser("dashboard", parents=[common], help="open optuna-dashboard on the search's database")
    dash.set_defaults(func=dashboard)
    dash.add_argument("name")
    dash.add_argument("--host", default="127.0.0.1")
    dash.add_argument("--port", type=ranged("--port", "port"), default=8080)

    srv = sub.add_parser("serve", parents=[common],
                         help="serve a local model over an OpenAI-compatible HTTP API")
    srv.set_defaults(func=serve)
    srv.add_argument("--model", default="smollm2",
                     help="'smollm2' (the embedded model), a local Hugging Face model folder or a .gguf file")
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    srv.add_argument("--port", type=ranged("--port", "any_port"), default=8000, help="port (0: any free port)")
    srv.add_argument("--model-id", help="the model name clients see (default: --model)")
    srv.add_argument("--max-tokens", type=ranged("--max-tokens", "max_tokens"), default=256,
                     help="answer length when a request gives none (shortened to the room the context leaves)")
    srv.add_argument("--request-timeout", type=ranged("--request-timeout", "request_timeout"), default=300,
                     metavar="SECONDS", help="wall time one request may take before a 504 stops its work "
                                             "(default: 300)")
    srv.add_argument("--batch-size", type=ranged("--batch-size", "batch_size"), default=32)
    srv.add_argument("--role", default="full", choices=SERVER_ROLES,
                     help="answer like another kind of server, to test clients against it: chat-only (no "
                          "/v1/completions), no-prompt-logprobs (like llama.cpp's llama-server), no-logprobs "
                          "(none at all); see docs/remote.md")
    srv.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available")
    srv.add_argument("--dtype", choices=("fp32", "bf16"), help="default: bf16 on cuda, fp32 on cpu")


# ---------------------------------------------------------------------------------------- eval

def evaluate(args: argparse.Namespace) -> int:
    verdict, verdict_id = service.evaluate(args.db, args.name, split=args.split, baseline=args.baseline,
                                           limit=args.limit, seed=args.seed, resamples=args.resamples,
                                           api_base=args.api_base, concurrency=args.concurrency,
                                           hooks=display.hooks())
    console.print(verdict_table(verdict))
    console.print(verdict.conclusion, style="bold")
    if verdict.warning:
        display.err_console.print(display.styled("warning:", "yellow", verdict.warning), highlight=False)
    console.print(f"stored as verdict {verdict_id} of search {verdict.search}", style="dim")
    return 0


def verdict_table(v) -> Table:
    title = (f"Held-out verdict: {v.search} on {v.split} ({plural(v.examples, 'example')}, model {v.model}, "
             f"{v.metric})")
    table = Table(title=title, title_justify="left")
    for col in ("prompt", "source", "dev", v.split, "95% CI", f"{v.split} − dev"):
        table.add_column(col, justify="left" if col in ("prompt", "source") else "right")
    for label, arm in (("best", v.best), ("baseline", v.baseline)):
        dev = f"{arm.dev_score:.4f}" if arm.dev_score is not None else "-"
        gap = f"{0.0 - arm.gap:+.4f}" if arm.gap is not None else "-"  # 0.0 - x: never "-0.0000"
        table.add_row(label, arm.source, dev, f"{arm.score.estimate:.4f}",
                      f"{arm.score.low:.4f} – {arm.score.high:.4f}", gap)
    d = v.difference
    table.add_row("difference", f"{v.test} p={v.p_value:.4g}", "", f"{d.estimate:+.4f}",
                  f"{d.low:+.4f} – {d.high:+.4f}", "")
    return table


# --------------------------------------------------------------------------------------- probe

def probe(args: argparse.Namespace) -> int:
    result, row_id = service.probe(args.db, args.name, split=args.split, limit=args.limit, seed=args.seed,
                                   resamples=args.resamples, api_base=args.api_base, hooks=display.hooks())
    console.print(display.probe_table(result.to_dict()))
    console.print(result.reading, style="bold", markup=False, highlight=False)
    console.print(f"stored as probe {row_id} of search {result.search}", style="dim", markup=False)
    return 0


# -------------------------------------------------------------------------------------- report

def report(args: argparse.Namespace) -> int:
    path = service.report(args.db, args.name, args.output, top=args.top, overwrite=args.force)
    console.print(f"wrote report to {path}")
    return 0


# ----------------------------------------------------------------------------------- dashboard

def dashboard(args: argparse.Namespace) -> int:
    try:
        from optuna_dashboard import run_server
    except ImportError:
        raise UserError("optuna-dashboard is not installed; install it with "
                        "`pip install optuna-dashboard` (or `pip install 'promptsearch[dashboard]'`)") from None
    store = service.open_store(args.db, read_only=True)  # its edits (notes, deletions) are refused
    record = store.get_search(args.name)
    study_id = store.optuna.get_study_id_from_name(record.study_name)
    console.print(f"optuna-dashboard on {mask_url(args.db)}: "
                  f"http://{args.host}:{args.port}/dashboard/studies/{study_id} "
                  f"(each trial's prompt is in its user attributes; Ctrl-C to stop)")
    try:
        run_server(store.optuna, host=args.host, port=args.port)
    except OSError as e:
        raise _port_error(args, e) from None
    except KeyboardInterrupt:
        pass
    return 0


# --------------------------------------------------------------------------------------- serve

def serve(args: argparse.Namespace) -> int:
    server, lm = service.open_server(args.model, args.host, args.port, model_id=args.model_id,
                                     max_tokens=args.max_tokens, batch_size=args.batch_size, device=args.device,
                                     dtype=args.dtype, hooks=display.hooks(), role=args.role,
                                     request_timeout=args.request_timeout)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        display.err_console.print(display.styled("warning:", "yellow", f"listening on {args.host}: anyone who can "
                                                 f"reach this address can use the model; there is no authentication"))
    console.print(f"serving {lm.name} as '{server.model_id}' at {server.url} (OpenAI-compatible: "
                  f"/chat/completions, /completions, /models; Ctrl-C to stop)", highlight=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _port_error(args: argparse.Namespace, e: OSError) -> UserError:
    return UserError(f"--port {args.port}: cannot listen on {args.host} ({e.strerror}); choose another --port")
