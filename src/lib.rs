//! fleetsync: keeps a fleet of GitHub repositories in step with a Dataiku DSS design node.
