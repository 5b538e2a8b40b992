"""aifactory.nodecheck: a GPU node proves itself before it takes work, and keeps proving it.

Standard library only and Python 3.8+, so it runs as is on the stock GPU images of the three
clouds (the bootstrap ships it as a zip application). It checks the node against what its
instance type promises (an `Expectation`: GPU model and count, memory, default power limit,
NVLink, fabric), writes one JSON report and exits non-zero when a check fails:

    python -m aifactory.nodecheck --expect-type p5.48xlarge --report -
    python3 nodecheck.pyz --expect "$(cat /etc/aifactory/expect.json)"
    python3 nodecheck.pyz serve --port 8686      # 200 while the last report passed, else 503
"""

REPORT_PATH = "/var/log/aifactory/nodecheck.json"
HEALTH_PORT = 8686
HEALTH_PATH = "/healthz"
