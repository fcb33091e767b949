# Seeded once by fleetsync for DSS project {{ key }}; this file is yours to edit.
# The GitOps workflows run it with pytest against the staging and prod automation nodes.
import os


def test_project_key_is_set():
    assert os.environ.get("DATAIKU_PROJECT_KEY", "{{ key }}") == "{{ key }}"
