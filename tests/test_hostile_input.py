"""Hostile input: what a file holds is never echoed, sources outside the policy are
refused (redirects too), reads are bounded, and only strategies are built."""

from __future__ import annotations

import gzip
import json
import os
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from stratopt.data._sources import SourcePolicy, _CheckedRedirects
from stratopt.errors import DataError, InputError
from tests.test_cli import stratopt

TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6IkFCQyJ9.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2lnbmF0dXJlc2VjcmV0"
CSV = "date,open,high,low,close\n" + "".join(
    f"2024-01-{d:02d},1.1,1.2,1.0,1.15\n" for d in range(1, 29)
)


def spec_file(folder: Path, source: str, strategy: str = "rsi_reversion") -> Path:
    path = folder / "spec.yaml"
    path.write_text(
        f"spec:\n  backtest:\n    data: {{source: '{source}'}}\n"
        f"    strategy: {{name: '{strategy}'}}\n"
    )
    return path


def backtest(folder: Path, source: str, strategy: str = "rsi_reversion", **env: str) -> str:
    """The error line of a backtest that must fail with status 2."""
    done = stratopt("backtest", str(spec_file(folder, source, strategy)), env={**os.environ, **env})
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done.stderr


@pytest.mark.parametrize(
    "content",
    [
        f"{TOKEN}\n",
        "HOME=/root\0AWS_SECRET_ACCESS_KEY=hunter22\0",
        "hunter22\n",
        f"a,{TOKEN}\n1,2\n",
    ],
    ids=["token", "environ", "password", "two-columns"],
)
def test_a_file_that_is_no_price_data_is_described_not_quoted(tmp_path: Path, content: str) -> None:
    secret = tmp_path / "secret"
    secret.write_text(content)
    error = backtest(tmp_path, str(secret))
    assert "spec.backtest.data.source" in error
    for leaked in (TOKEN, "hunter22", "AWS_SECRET", "HOME=/root"):
        assert leaked not in error, error


@pytest.fixture()
def internal_server() -> Iterator[str]:
    """A web server on loopback that answers with a secret, or redirects to itself."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.1:{port}/secret")
                self.end_headers()
                return
            self.send_response(200)
            self.end_headers()
            self.wfile.write(f"{TOKEN}\n".encode())

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(5)


CLUSTER = {
    "STRATOPT_DATA_SCHEMES": "s3,gs,https,http,file",
    "STRATOPT_DATA_HOSTS": "",
    "STRATOPT_DATA_PATHS": "/data",
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "/var/run/secrets/kubernetes.io/serviceaccount/token",
            "local files may be read only from /data",
        ),
        ("/proc/self/environ", "local files may be read only from /data"),
        ("/data/../proc/self/environ", "local files may be read only from /data"),
        ("http://169.254.169.254/latest/meta-data/", "its host is not a public address"),
        ("https://kubernetes.default.svc/api", "its host is not a public address"),
        ("ftp://example.com/bars.csv", "the scheme 'ftp' is not allowed on this cluster"),
        ("memory://bars.csv", "the scheme 'memory' is not allowed"),
        ("simplecache::http://127.0.0.1/bars.csv", "the scheme 'simplecache' is not allowed"),
    ],
)
def test_a_cluster_policy_refuses_secrets_internal_hosts_and_unlisted_schemes(
    tmp_path: Path, source: str, expected: str
) -> None:
    error = backtest(tmp_path, source, **CLUSTER)
    assert f"spec.backtest.data.source: {expected}" in error, error
    assert "dataSources" in error or "public" in error


def test_a_cluster_policy_refuses_a_loopback_server_and_never_echoes_it(
    tmp_path: Path, internal_server: str
) -> None:
    error = backtest(tmp_path, f"{internal_server}/secret", **CLUSTER)
    assert "its host is not a public address" in error and TOKEN not in error


def test_a_redirect_to_a_place_the_policy_refuses_is_not_followed() -> None:
    policy = SourcePolicy(schemes=("https", "http"))
    handler = _CheckedRedirects(policy, "spec.backtest.data.source")
    request = urllib.request.Request("https://data.example.com/bars.csv")
    with pytest.raises(DataError, match="redirected to a place not allowed: its host is not"):
        handler.redirect_request(
            request, None, 302, "Found", {}, "http://169.254.169.254/latest/meta-data/"
        )


def test_locally_every_scheme_works_and_redirects_are_followed(
    tmp_path: Path, internal_server: str
) -> None:
    # No policy here: what the user can fetch, stratopt fetches (and reports as not prices).
    error = backtest(tmp_path, f"{internal_server}/redirect")
    assert "no timestamp column found" in error and TOKEN not in error


def test_files_inside_the_allowed_folder_are_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "bars.csv").write_text(CSV)
    done = stratopt("backtest", str(spec_file(tmp_path, str(data / "bars.csv"))))
    assert done.returncode == 0 or "needs at least" in done.stderr, done.stderr
    error = backtest(tmp_path, str(data / ".." / "spec.yaml"), STRATOPT_DATA_PATHS=str(data))
    assert "local files may be read only from" in error


def test_devices_and_fifos_are_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    assert "is not a regular file" in backtest(tmp_path, str(fifo))
    assert "is not a regular file" in backtest(tmp_path, "/dev/zero")


def test_a_compressed_file_is_bounded_after_decompression(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.csv.gz"
    bomb.write_bytes(gzip.compress(CSV.encode() + b"0" * 5_000_000))
    error = backtest(tmp_path, str(bomb), STRATOPT_MAX_DATA_BYTES="1000000")
    assert "holds more than 1,000,000 bytes (after decompression)" in error


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("multiprocessing.pool:Pool", "is not a strategy: it must declare name, parameters"),
        ("tempfile:TemporaryDirectory", "is not a strategy"),
        ("tests.user_strategies.dishonest:LeavesATrace", "is not a strategy"),
        ("tests.user_strategies.dishonest:BadlyNamed", "its name must be a non-empty string"),
        ("tests.user_strategies.dishonest:Exits", "raised SystemExit"),
        ("tests.user_strategies.dishonest:Interrupts", "raised KeyboardInterrupt in warmup()"),
    ],
)
def test_only_strategies_are_built_and_user_code_cannot_exit_quietly(
    tmp_path: Path, strategy: str, expected: str
) -> None:
    trace = tmp_path / "built"
    data = tmp_path / "bars.csv"
    data.write_text(CSV * 1)
    error = backtest(
        tmp_path, "synthetic:gbm?bars=500&seed=1", strategy, STRATOPT_TEST_TRACE=str(trace)
    )
    assert expected in error, error
    assert not trace.exists(), "a class that is no strategy was built"


def test_messages_are_bounded_whatever_the_value(tmp_path: Path) -> None:
    error = backtest(tmp_path, "/absent/" + "x" * 100_000 + ".csv")
    assert len(error) < 2000 and "spec.backtest.data.source" in error


RANDOM_RUN = (
    "apiVersion: stratopt.io/v1alpha1\nkind: OptimizationRun\nmetadata: {{name: {name}}}\n"
    "spec:\n  backtest:\n    data: {{source: 'synthetic:gbm?bars=1500&seed=3'}}\n"
    "    strategy: {{name: rsi_reversion}}\n"
    "  parameters: [{{name: stop_loss, min: 20, max: 80}}]\n"
    "  objectives: [net_profit]\n  algorithm: {{name: random, random: {{samples: 4}}}}\n"
)


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/absolute", "UPPER", "a/b", "x" * 254])
def test_a_name_that_could_leave_the_results_folder_is_refused(tmp_path: Path, name: str) -> None:
    runs = tmp_path / "runs.yaml"
    runs.write_text(RANDOM_RUN.format(name="first") + "---\n" + RANDOM_RUN.format(name=f"'{name}'"))
    done = stratopt("run", str(runs), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "metadata.name: must be a Kubernetes name" in done.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert {p.name for p in tmp_path.iterdir()} <= {"runs.yaml", "out"}


def test_results_folders_carry_the_kind_and_are_refused_when_taken(tmp_path: Path) -> None:
    runs = tmp_path / "runs.yaml"
    runs.write_text(RANDOM_RUN.format(name="same") + "---\n" + RANDOM_RUN.format(name="other"))
    out = tmp_path / "out"
    done = stratopt("run", str(runs), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "optimizationrun-other",
        "optimizationrun-same",
    ]
    assert {p.name for p in (out / "optimizationrun-same").iterdir()} >= {
        "status.yaml",
        "resource.yaml",
    }
    again = stratopt("run", str(runs), "--out", str(out))
    assert (
        again.returncode == 2
        and "already holds files" in again.stderr
        and "--force" in again.stderr
    )
    forced = stratopt("run", str(runs), "--out", str(out), "--force")
    assert forced.returncode == 0, forced.stderr
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert leftovers == [], "no staging folder is left behind"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n"
                for p, c in zip("abcdefgh", "bcdefghi", strict=True)
            )
            + "kind: *i\nspec: {}\n",
            "expands to more than 200,000 values",
        ),
        ("spec: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper than 64 levels"),
        ("? [a, b]\n: 1\nspec: {}\n", "a key must be a plain value"),
        ("kind: [OptimizationRun]\nspec: {}\n", "kind: must be one of"),
        ('metadata: {name: "a\\0b"}\nspec: {}\n', "metadata.name: must be a Kubernetes name"),
    ],
    ids=["billion-laughs", "deep-nesting", "list-key", "list-kind", "nul-name"],
)
def test_hostile_yaml_is_refused_quickly(tmp_path: Path, document: str, expected: str) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(document)
    done = stratopt("run", str(path))
    assert done.returncode == 2 and expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("    capital: .inf\n", "spec.backtest.capital: must be a finite number"),
        ("    costs: {spread: .nan}\n", "spec.backtest.costs.spread: must be a finite number"),
        ("    data: {source: 'synthetic:gbm?bars=10&bars=200000000'}\n", "bars is given twice"),
        ("    data: {source: 'synthetic:gbm?seed=-1'}\n", "seed from 0 to 2**63 - 1"),
        ("    data: {source: 'synthetic:gbm?bars=500', tickSize: 5e-324}\n", "tickSize"),
    ],
)
def test_absurd_numbers_are_refused_naming_the_field(
    tmp_path: Path, change: str, expected: str
) -> None:
    path = tmp_path / "absurd.yaml"
    data = "" if "data:" in change else "    data: {source: 'synthetic:gbm?bars=500'}\n"
    path.write_text(
        "spec:\n  backtest:\n" + data + "    strategy: {name: rsi_reversion}\n" + change
    )
    done = stratopt("backtest", str(path))
    assert done.returncode == 2 and expected in done.stderr, done.stderr


def test_set_refuses_a_number_that_is_not_finite(tmp_path: Path) -> None:
    path = spec_file(tmp_path, "synthetic:gbm?bars=500")
    done = stratopt("backtest", str(path), "--set", "rsi_period=nan")
    assert done.returncode == 2 and "--set rsi_period: value must be finite" in done.stderr


def test_walk_forward_folds_count_against_the_evaluation_limit(tmp_path: Path) -> None:
    path = tmp_path / "folds.yaml"
    path.write_text(
        RANDOM_RUN.format(name="folds").replace("samples: 4", "samples: 20000")
        + "  walkForward: {train: 100, test: 100}\n"
    )
    done = stratopt("run", str(path))
    assert done.returncode == 2, done.stderr
    assert "spec.walkForward: 14 folds each search again: 20,000 evaluations × 15" in done.stderr
    assert "over the limit of 100,000" in done.stderr


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_worker_processes_die_with_a_killed_run() -> None:
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import EXAMPLES

    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stratopt.cli",
            "run",
            str(EXAMPLES / "optimization-genetic.yaml"),
            "--workers",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while time.monotonic() < deadline and len(workers) < 2 and run.poll() is None:
            workers = _children(run.pid)
            time.sleep(0.05)
        assert len(workers) >= 2, "the run started its worker processes"
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait(30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.05)
    survivors = [w for w in workers if _alive(w)]
    for pid in survivors:  # ours, by PID: leave nothing running whatever the verdict
        os.kill(pid, signal.SIGKILL)
    assert not survivors, "a worker outlived its run"


def test_a_strategy_that_never_returns_is_stopped_by_its_timeout(tmp_path: Path) -> None:
    error = backtest(
        tmp_path,
        "synthetic:gbm?bars=500&seed=1",
        "tests.user_strategies.dishonest:SleepsForever",
        STRATOPT_STRATEGY_TIMEOUT="1",
    )
    assert "signals() ran past 1 s; make it faster, or raise STRATOPT_STRATEGY_TIMEOUT" in error


def test_names_are_shown_as_they_are_not_read_as_markup(tmp_path: Path) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text(
        "spec:\n  backtest:\n    data: {source: 'synthetic:gbm?bars=1500&seed=3'}\n"
        "    strategy: {name: 'tests.user_strategies.dishonest:OddlyNamed'}\n"
        "  parameters: [{name: '[/x]', type: int, min: 2, max: 20}]\n"
        "  objectives: [net_profit, max_drawdown]\n"
        "  algorithm: {name: random, random: {samples: 6}}\n  minTrades: 0\n"
    )
    done = stratopt("run", str(path))
    assert done.returncode == 0, done.stderr
    assert "[/x]" in done.stdout


def test_a_file_with_close_twice_is_refused_by_name(tmp_path: Path) -> None:
    both = tmp_path / "both.csv"
    both.write_text("date,open,high,low,Close,close\n2024-01-01,1,2,0.5,1.5,1.5\n")
    error = backtest(tmp_path, str(both))
    assert "has several columns named 'close'" in error


def test_a_report_without_cluster_credentials_says_what_to_give(tmp_path: Path) -> None:
    done = stratopt("report", "optrun/absent", "--kubeconfig", str(tmp_path / "none"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--kubeconfig: no usable cluster credentials" in done.stderr


def test_day_first_dates_name_the_option_that_reads_them(tmp_path: Path) -> None:
    rows = "".join(f"{d:02d}/01/2019,1.1,1.2,1.0,1.15\n" for d in range(1, 32))
    (tmp_path / "dayfirst.csv").write_text("Date,Open,High,Low,Close\n" + rows)
    error = backtest(tmp_path, str(tmp_path / "dayfirst.csv"))
    assert "give their format as data.dateFormat (e.g. '%d/%m/%Y' for 31/12/2018)" in error
    spec = tmp_path / "given.yaml"
    spec.write_text(
        f"spec:\n  backtest:\n    data: {{source: '{tmp_path / 'dayfirst.csv'}', "
        "dateFormat: '%d/%m/%Y'}\n    strategy: {name: rsi_reversion, parameters: "
        "{rsi_period: 3}}\n"
    )
    done = stratopt("backtest", str(spec), "-o", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["bars"] == 31
    wrong = spec.read_text().replace("%d/%m/%Y", "%m/%d/%Y")
    spec.write_text(wrong)
    refused = stratopt("backtest", str(spec))
    assert refused.returncode == 2
    assert "spec.backtest.data.dateFormat: '%m/%d/%Y' does not read column 'date'" in refused.stderr


@pytest.mark.parametrize("volume", ["none", "empty"])
def test_data_without_volume_serves_what_never_reads_volume(tmp_path: Path, volume: str) -> None:
    from stratopt.api import parse_model
    from stratopt.api.v1alpha1 import FeatureAnalysisSpec
    from stratopt.data import synthesize_ohlcv
    from stratopt.runtime import run_feature_analysis

    frame = synthesize_ohlcv("synthetic:gbm?bars=3000&freq=1h&seed=5")
    frame = frame.drop(columns="volume") if volume == "none" else frame.assign(volume=None)
    frame.reset_index(names="timestamp").to_csv(tmp_path / "bars.csv", index=False)
    source = str(tmp_path / "bars.csv")
    done = stratopt("backtest", str(spec_file(tmp_path, source)), "-o", "json")
    assert done.returncode == 0, done.stderr
    quick = {"model": {"nEstimators": 10, "maxDepth": 3}, "importance": {"repeats": 1}}
    analysis = parse_model(FeatureAnalysisSpec, {"data": {"source": source}, **quick}, "spec")
    status = run_feature_analysis(analysis)  # the default features, less volume's
    assert status.n_features == 12 and "volume_ratio_20" not in status.top_features
    named = {"data": {"source": source}, "features": ["rsi_14", "volume_ratio_20"], **quick}
    with pytest.raises(InputError) as refused:
        run_feature_analysis(parse_model(FeatureAnalysisSpec, named, "spec"))
    assert refused.value.field == "spec.features[1]"
    assert refused.value.message.startswith("volume_ratio_20 reads volume, which the data")
