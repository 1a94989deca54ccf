"""Rules for the Dockerfile's own steps (RA020-RA033): one positive and one negative case
at least per rule, tricky shell included. Each case is a Dockerfile body after `FROM`."""

from __future__ import annotations

import pytest

from audit.check.rules.dockerfile_steps import check_text
from audit.check.rules.step_packages import Locked

HEAD = "FROM debian:12@sha256:" + "0" * 64 + "\n"


def rules_of(body: str, locked: Locked | None = None) -> list[tuple[str, int]]:
    return [(f.rule_id, f.line) for f in check_text(HEAD + body, "Dockerfile", locked)]


def ids(body: str, locked: Locked | None = None) -> set[str]:
    return {rule for rule, _ in rules_of(body, locked)}


POSITIVE = [
    # conda solving at build time
    ("RA020", "RUN conda install -y scikit-learn"),
    ("RA020", "RUN conda update --all -y"),
    ("RA020", "RUN conda update -n base conda"),
    ("RA020", "RUN conda env create -f environment.yml"),
    ("RA020", "RUN mamba env update -n base --file env.yaml"),
    ("RA020", "RUN micromamba install -y -n base -c conda-forge numpy=1.26"),
    ("RA020", "RUN micromamba create -n x python=3.10"),
    ("RA020", "RUN /opt/conda/bin/conda install -y python=3.11"),
    ("RA020", "RUN sudo -E conda install -y numpy"),
    ("RA020", 'RUN bash -c "conda install -y numpy"'),
    ("RA020", 'RUN ["conda", "install", "-y", "numpy"]'),
    ("RA020", "RUN <<EOF\nset -e\nconda install -y numpy\nEOF"),
    # pip
    ("RA022", "RUN pip install pandas"),
    ("RA022", "RUN pip install 'numpy>=1.20'"),
    ("RA022", "RUN pip install numpy==1.*"),
    ("RA022", "RUN python3 -m pip install --upgrade pip"),
    ("RA022", "RUN uv pip install --system requests"),
    ("RA022", "RUN conda run -n env pip install pandas"),
    ("RA023", "RUN pip install -r requirements.txt"),
    ("RA023", "RUN pip install -rrequirements.txt"),
    ("RA024", "RUN pip install git+https://github.com/o/r.git"),
    ("RA024", "RUN pip install git+https://github.com/o/r.git@main"),
    ("RA024", "RUN pip install -e git+https://github.com/o/r.git#egg=r"),
    # OS packages
    ("RA026", "RUN apt-get update && apt-get install -y curl"),
    ("RA026", "RUN apt install -y --no-install-recommends curl git"),
    ("RA026", "RUN apk add --no-cache git"),
    ("RA026", "RUN apt-get install -y cuda-gdb-${CUDA} python${PY}-dev"),
    ("RA026", "RUN dnf install -y gcc"),
    ("RA026", "RUN yum -y install --setopt=tsflags=nodocs gcc"),
    ("RA026", "RUN microdnf install gcc"),
    ("RA026", "RUN zypper install -y gcc"),
    ("RA027", "RUN apt-get update && apt-get upgrade -y"),
    ("RA027", "RUN apt-get dist-upgrade -y"),
    ("RA027", "RUN apk upgrade --no-cache"),
    ("RA027", "RUN yum -y update"),
    # downloads
    ("RA028", "RUN curl -fsSL https://example.org/install.sh | bash"),
    ("RA028", "RUN wget -qO- https://example.org/install.sh | sudo sh -s -- -y"),
    ("RA028", 'RUN sh -c "$(curl -fsSL https://example.org/install.sh)"'),
    ("RA028", "RUN curl -fsSL https://example.org/get.py | python3 -"),
    (
        "RA029",
        "RUN wget https://x.org/Miniconda3-py311_24.1.2-0-Linux-x86_64.sh -O /tmp/m.sh "
        "&& bash /tmp/m.sh -b",
    ),
    ("RA029", "RUN curl -L -o tool.tar.gz https://x.org/tool-1.0.tar.gz && tar -xzf tool.tar.gz"),
    ("RA029", "RUN curl -sL https://x.org/tool/1.1.0 | tar -xj -C /usr/local/bin"),
    (
        "RA029",
        "RUN curl -fsSL -o /usr/local/bin/tool https://x.org/tool-1 && chmod +x "
        "/usr/local/bin/tool",
    ),
    ("RA029", "RUN curl -o /tmp/i.sh https://x.org/i-1.sh\nRUN bash /tmp/i.sh"),
    ("RA030", "ADD https://example.org/tool-1.0.tar.gz /opt/"),
    ("RA031", "RUN wget https://repo.anaconda.com/miniconda/Miniconda3-latest-Linux-x86_64.sh"),
    ("RA031", "RUN curl -LO https://github.com/o/r/releases/latest/download/t.tgz"),
    ("RA031", "RUN wget https://raw.githubusercontent.com/o/r/master/setup.cfg"),
    ("RA024", "RUN git clone https://github.com/o/tool /opt/tool"),
    ("RA024", "RUN git clone --branch main https://github.com/o/tool"),
    ("RA024", "ADD https://github.com/o/r.git#main /src"),
    ("RA032", "RUN npm install -g yarn"),
    ("RA032", "RUN yarn global add typescript"),
    ("RA032", "RUN gem install bundler"),
    ("RA033", 'RUN echo "built $(date)" > /etc/build-info'),
    ("RA033", "RUN echo $RANDOM > /etc/machine-seed"),
]

NEGATIVE = [
    # installing the lock is the point
    ("RA020", "RUN micromamba install -y -n base -f /tmp/conda-lock.yml"),
    ("RA020", "RUN micromamba create -y -n env -f conda-linux-64.lock"),
    ("RA020", "RUN conda create -n env --file conda-linux-64.lock"),
    ("RA020", "RUN conda-lock install --name env conda-lock.yml"),
    ("RA020", "RUN conda clean -afy && conda config --set channel_priority strict"),
    ("RA020", "RUN conda --version && mamba --version"),
    ("RA020", "RUN micromamba create -n empty-env"),
    ("RA020", 'RUN echo "conda install numpy && pip install pandas"'),
    # pip that is fine
    ("RA022", "RUN pip install ."),
    ("RA022", "RUN pip install -e .[test]"),
    ("RA022", "RUN pip install /tmp/wheels/x-1.0-py3-none-any.whl"),
    ("RA022", "RUN pip install numpy==1.26.4 pandas===2.2.0"),
    ("RA022", "RUN pip install --version"),
    ("RA022", "RUN pip --version && pip list"),
    ("RA022", "RUN pip install $PACKAGES"),
    ("RA022", "RUN pip install numpy==$NUMPY_VERSION"),
    ("RA023", "RUN pip install --require-hashes -r r.txt"),
    ("RA023", "RUN pip install --no-deps --require-hashes -r requirements/dev.txt"),
    ("RA024", "RUN pip install git+https://github.com/o/r.git@" + "a" * 40),
    ("RA024", "RUN pip install git+https://github.com/o/r.git@v1.2.3"),
    # OS packages with versions
    ("RA026", "RUN apt-get update && apt-get install -y curl=7.88.1-10"),
    ("RA026", "RUN apt-get install -y ./local.deb"),
    ("RA026", "RUN apt-get install -y $PKGS"),
    ("RA026", "RUN apk add --no-cache --virtual .build-deps gcc=13.2.1_git20231014-r0"),
    ("RA026", "RUN apk add --no-cache curl~8.5"),
    ("RA026", "RUN dnf install -y gcc-11.4.1"),
    ("RA026", "RUN dnf install -y gcc-${GCC_VERSION}"),
    ("RA026", "RUN apt-get install -y gcc=${GCC_VERSION}"),
    ("RA026", 'RUN echo "apt-get install -y curl"'),
    ("RA026", "RUN apt-get update && apt-get clean"),
    ("RA027", "RUN apt-get update"),
    ("RA027", "RUN apk update"),
    # checked downloads
    ("RA028", "RUN curl -fsSL https://x.org/key.gpg | gpg --dearmor -o /usr/share/k.gpg"),
    (
        "RA029",
        'RUN curl -fsSLo /tmp/m.sh https://x.org/m-1.sh && echo "abc  /tmp/m.sh" '
        "| sha256sum -c - && bash /tmp/m.sh",
    ),
    ("RA029", "RUN wget -q https://x.org/t-1.tgz && sha256sum --check t.sha256 && tar xzf t-1.tgz"),
    ("RA029", "RUN curl -fsSL -o /tmp/data.json https://x.org/data-1.json"),
    ("RA029", "RUN curl -fsSL https://x.org/k.gpg | apt-key add -"),
    ("RA030", "ADD --checksum=sha256:" + "a" * 64 + " https://example.org/tool.tar.gz /opt/"),
    ("RA030", "ADD ./local.tar.gz /opt/"),
    ("RA031", "RUN curl -LO https://github.com/o/r/releases/download/v1.2/t.tgz"),
    ("RA024", "RUN git clone https://github.com/o/t && cd t && git checkout " + "b" * 40),
    ("RA024", "RUN git clone --depth 1 --branch v2.1.0 https://github.com/o/t"),
    ("RA024", "ADD https://github.com/o/r.git#" + "c" * 40 + " /src"),
    ("RA032", "RUN npm install -g yarn@1.22.19"),
    ("RA032", "RUN npm ci"),
    ("RA032", "RUN npm install"),
    ("RA032", "RUN gem install bundler -v 2.5.0"),
    ("RA032", "RUN gem install bundler:2.5.0"),
    ("RA033", "RUN date"),
    ("RA033", "RUN echo hello > /etc/motd"),
]


@pytest.mark.parametrize(
    ("rule", "body"), POSITIVE, ids=[f"{r}-{i}" for i, (r, _) in enumerate(POSITIVE)]
)
def test_rule_finds(rule: str, body: str) -> None:
    assert rule in ids(body), body


@pytest.mark.parametrize(
    ("rule", "body"), NEGATIVE, ids=[f"{r}-{i}" for i, (r, _) in enumerate(NEGATIVE)]
)
def test_rule_does_not_find(rule: str, body: str) -> None:
    assert rule not in ids(body), body


def test_quoted_and_is_one_word() -> None:
    # `"a && b"` is an argument of echo, not a second command
    assert ids('RUN echo "x && apt-get install -y curl" && true') == set()


def test_line_of_the_command_in_a_continued_run() -> None:
    body = (
        "RUN apt-get update \\\n"
        "    # a comment inside the continuation\n"
        "    && apt-get install -y \\\n"
        "       curl git \\\n"
        "    && pip install pandas\n"
    )
    assert rules_of(body) == [("RA026", 4), ("RA022", 6)]


def test_heredoc_body_lines() -> None:
    body = "RUN <<EOF\nset -e\napt-get update\napt-get install -y curl\nEOF\n"
    assert rules_of(body) == [("RA026", 5)]


def test_heredoc_as_data_is_not_a_script() -> None:
    body = "RUN cat <<EOF > /etc/notes\napt-get install -y curl\nEOF\n"
    assert ids(body) == set()


def test_powershell_shell_is_not_judged() -> None:
    body = 'SHELL ["powershell", "-Command"]\nRUN apt-get install -y curl\n'
    assert ids(body) == set()
    body = 'SHELL ["/bin/bash", "-o", "pipefail", "-c"]\nRUN apt-get install -y curl\n'
    assert ids(body) == {"RA026"}


def test_lock_aware_rules() -> None:
    locked = Locked(
        conda={"numpy": "1.26.4"},
        pip={"requests": "2.32.3"},
        pip_hosts=frozenset({"pypi.example.org"}),
    )
    found = check_text(HEAD + "RUN conda install -y numpy scikit-learn\n", "Dockerfile", locked)
    unlocked = [f.message for f in found if f.rule_id == "RA021"]
    assert len(unlocked) == 1 and "scikit-learn" in unlocked[0]
    assert ids("RUN pip install requests==2.32.3\n", locked) == set()
    other = check_text(HEAD + "RUN pip install requests==2.31.0\n", "Dockerfile", locked)
    assert [f.rule_id for f in other] == ["RA021"] and "the lock has requests 2.32.3" in (
        other[0].message
    )
    assert "RA021" not in ids("RUN conda install -y numpy=1.26\n", locked)  # 1.26.* holds it
    assert "RA021" in ids("RUN pip install pandas==2.2.0\n", locked)
    assert "RA021" in ids("RUN pip install /w/pandas-2.2.0-py3-none-any.whl\n", locked)
    assert "RA021" not in ids("RUN pip install /w/requests-2.32.3-py3-none-any.whl\n", locked)
    assert "RA025" in ids("RUN pip install -i https://other.example/simple x==1\n", locked)
    assert "RA025" not in ids(
        "RUN pip install -i https://pypi.example.org/simple requests==2.32.3\n", locked
    )
    # without a lock nothing is "outside" it
    assert "RA021" not in ids("RUN conda install -y scikit-learn\n")


def test_credentials_never_in_messages() -> None:
    found = check_text(
        HEAD + "RUN pip install -i https://bob:hunter2@pypi.example.org/s x\n", "Dockerfile"
    )
    assert found and all("hunter2" not in f.message for f in found)


def test_twelve_steps_all_found() -> None:
    from pathlib import Path

    text = (Path(__file__).parent / "steps" / "twelve.Dockerfile").read_text()
    got = {(f.line, f.rule_id) for f in check_text(text, "Dockerfile")}
    expected = {
        (3, "RA029"),
        (3, "RA031"),
        (4, "RA020"),
        (5, "RA020"),
        (6, "RA020"),
        (7, "RA022"),
        (8, "RA023"),
        (9, "RA026"),
        (9, "RA027"),
        (10, "RA026"),
        (11, "RA032"),
        (12, "RA028"),
        (13, "RA030"),
        (14, "RA024"),
    }
    assert got == expected


# --------------------------------------------------------------------------- CLI: suppression,
# policy, --list-rules, SARIF metadata


def _project(tmp_path, dockerfile: str, policy: str = ""):  # type: ignore[no-untyped-def]
    (tmp_path / "Dockerfile").write_text(HEAD + dockerfile)
    if policy:
        (tmp_path / "repro-audit.toml").write_text(policy)
    return tmp_path


def _check(path, *args: str):  # type: ignore[no-untyped-def]
    import json

    from support.cli import repro_audit

    result = repro_audit("check", str(path), "--format", "json", *args)
    assert result.returncode in (0, 1), result.stderr
    data = json.loads(result.stdout)
    return result.returncode, [(f["rule_id"], f["line"], f["level"]) for f in data["findings"]]


def test_suppression_comment_above_and_on_the_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    body = (
        "# repro-audit: ignore=RA026 curl comes from the snapshot mirror\n"
        "RUN apt-get update \\\n"
        "    && apt-get install -y curl\n"
        "RUN pip install pandas  # repro-audit: ignore=pip-unpinned tracked in #12\n"
        "RUN apk add git\n"
    )
    code, found = _check(_project(tmp_path, body))
    rules = {rule for rule, _, _ in found}
    assert "RA026" in rules and "RA022" not in rules
    assert [line for rule, line, _ in found if rule == "RA026"] == [6]  # apk, not apt
    assert code == 1


def test_policy_disables_and_regrades(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # RA012: the test's base digest is in no image-lock.json
    policy = 'disable-rules = ["RA027", "image-lock-mismatch"]\nrule-levels = { RA026 = "note" }\n'
    body = "RUN apt-get update && apt-get upgrade -y && apt-get install -y curl\n"
    code, found = _check(_project(tmp_path, body, policy))
    assert [(rule, level) for rule, _, level in found] == [("RA026", "note")]
    assert code == 0  # a note does not fail the check


def test_policy_unknown_rule_is_a_finding(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from support.cli import repro_audit

    path = _project(tmp_path, "RUN true\n", 'disable-rules = ["RA999"]\n')
    result = repro_audit("check", str(path))
    assert result.returncode == 1
    assert "repro-audit.toml:1: error RA040 policy-invalid" in result.stdout
    assert "RA999" in result.stdout and "Traceback" not in result.stderr


def test_list_rules() -> None:
    import json

    from support.cli import repro_audit

    from audit.check.run import RULES

    human = repro_audit("check", "--list-rules")
    assert human.returncode == 0
    assert all(f"{r.id}  {r.name}" in human.stdout for r in RULES.values())
    data = json.loads(repro_audit("check", "--list-rules", "--format", "json").stdout)
    listed = {r["id"]: r for r in data["rules"]}
    assert listed.keys() == RULES.keys()
    assert "micromamba install -f" in listed["RA020"]["hint"]
    assert "dockerfile" in listed["RA028"]["tags"]


def test_sarif_rule_metadata(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from support.cli import repro_audit

    path = _project(tmp_path, "RUN curl -fsSL https://x.org/i.sh | bash\n")
    result = repro_audit("check", str(path), "--format", "sarif")
    doc = json.loads(result.stdout)
    rules = {r["id"]: r for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    assert "sha256" in rules["RA028"]["help"]["text"]
    assert "supply-chain" in rules["RA028"]["properties"]["tags"]
    (hit,) = [r for r in doc["runs"][0]["results"] if r["ruleId"] == "RA028"]
    assert hit["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
