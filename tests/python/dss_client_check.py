"""Drives the simulated DSS node with Dataiku's official Python client (dataiku-api-client):
every DSSProjectGit call fleetsync's GitOps flow uses, plus listing projects and plugins,
project metadata, and the deployer's stages and infrastructures. Each answer is checked against
the shapes the client documents. Run by tests/dss_python_client.rs:

    python dss_client_check.py --url URL --key KEY --project KEY --remote GIT_URL --admin URL

Exits 0 when every check passed; otherwise prints the failed check and exits 1.
"""

import argparse
import json
import sys
import urllib.request

from dateutil import parser as isoparser
from dataikuapi import DSSClient

CHECKS = []


def check(name, ok, detail=""):
    CHECKS.append(name)
    if not ok:
        raise AssertionError("%s: %s" % (name, detail))


def git_answer(name, answer, want_success=True):
    """push/fetch/pull answer {success, logs, output}."""
    check(name + " is a dict", isinstance(answer, dict), repr(answer))
    for key in ("success", "logs", "output"):
        check(name + " has " + key, key in answer, repr(answer))
    check(name + " success", answer["success"] is want_success, answer.get("output"))
    return answer["output"]


def dss_user_commits(admin, key, path, text):
    """A DSS user edits the project (the simulator's admin API)."""
    body = json.dumps({"files": {path: text}, "message": "Edit " + path}).encode()
    req = urllib.request.Request(
        "%s/_sim/dss/projects/%s/commits" % (admin, key),
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())["commit"]


def listings(client, key):
    projects = client.list_projects()
    check("list_projects is a list of dicts", all(isinstance(p, dict) for p in projects))
    check("list_projects items have projectKey", all("projectKey" in p for p in projects))
    check("list_project_keys has the project", key in client.list_project_keys())
    located = client.list_projects(include_location=True)
    check("list_projects(include_location) answers", len(located) == len(projects))
    plugins = client.list_plugins()
    check("list_plugins items have id", plugins and all("id" in p for p in plugins), repr(plugins))
    md = client.get_project(key).get_metadata()
    check("metadata has label and tags", "label" in md and isinstance(md.get("tags"), list), repr(md))


def deployer(client):
    d = client.get_projectdeployer()
    stages = d.list_stages()
    check("stages are {id, desc}", all("id" in s and "desc" in s for s in stages), repr(stages))
    check(
        "stock stages",
        [s["id"] for s in stages] == ["Development", "Test", "Production"],
        repr(stages),
    )
    infras = d.list_infras(as_objects=False)
    check(
        "infras have infraBasicInfo.id and stage",
        infras and all("id" in i["infraBasicInfo"] and "stage" in i["infraBasicInfo"] for i in infras),
        repr(infras),
    )
    check(
        "infra stages are stock stages",
        all(i["infraBasicInfo"]["stage"] in ("Development", "Test", "Production") for i in infras),
    )
    objs = d.list_infras()
    check("infras as objects", [o.infra_id for o in objs] == [i["infraBasicInfo"]["id"] for i in infras])


def log_entries(git):
    log = git.log()
    check("log has entries", isinstance(log.get("entries"), list) and log["entries"], repr(log))
    for e in log["entries"]:
        for field in ("author", "message", "timestamp"):
            check("log entry has " + field, field in e, repr(e))
        isoparser.isoparse(e["timestamp"])
    first = git.log(count=1)
    check("log(count=1) pages", len(first["entries"]) == 1 and "nextCommit" in first, repr(first))
    rest = git.log(start_commit=first["nextCommit"], count=1000)
    check("log continues at nextCommit", len(rest["entries"]) == len(log["entries"]) - 1)
    return log


def project_git(client, key, remote, admin):
    git = client.get_project(key).get_project_git()
    check("current branch is master", git.get_current_branch() == "master")
    check("branches", git.list_branches() == ["master"], repr(git.list_branches()))
    status = git.get_status()
    check("status currentBranch", status.get("currentBranch") == "master", repr(status))
    check("no remote yet", git.get_remote() is None)
    git.set_remote(remote)
    check("remote set", git.get_remote() == remote)

    out = git_answer("push", git.push())
    check("push created master", "[new branch]" in out and "master -> master" in out, out)
    check("remote branches", "origin/master" in git.list_branches(remote=True))

    git_answer("fetch", git.fetch())
    pulled = git_answer("pull", git.pull())
    check("pull: up to date", "up to date" in pulled, pulled)

    made = git.create_branch("feature-1")
    check("create_branch success", made.get("success") is True, repr(made))
    check("create_branch switches", git.get_current_branch() == "feature-1")
    dss_user_commits(admin, key, "recipes/feature.py", "feature = 1\n")
    out = git_answer("push feature-1", git.push())
    check("push created feature-1", "feature-1 -> feature-1" in out, out)
    log = log_entries(git)
    check("newest first", log["entries"][0]["message"] == "Edit recipes/feature.py", repr(log))

    dss_user_commits(admin, key, "recipes/more.py", "more = 1\n")
    out = git_answer("push again", git.push("feature-1"))
    check("push fast-forwarded", ".." in out and "feature-1 -> feature-1" in out, out)
    git_answer("pull feature-1", git.pull("feature-1"))
    dupe = git.create_branch("feature-1")
    check("create_branch twice fails like git", dupe.get("success") is False, repr(dupe))


def main():
    args = argparse.ArgumentParser()
    for a in ("--url", "--key", "--project", "--remote", "--admin"):
        args.add_argument(a, required=True)
    a = args.parse_args()
    client = DSSClient(a.url, api_key=a.key)
    try:
        listings(client, a.project)
        deployer(client)
        project_git(client, a.project, a.remote, a.admin)
    except Exception as e:  # the failed check, or the client's own DataikuException
        print("FAILED after %d checks: %s: %s" % (len(CHECKS), type(e).__name__, e))
        return 1
    print("OK: %d checks" % len(CHECKS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
