"""The one base class of mistakes a user can fix: the CLI prints them as one line, exit 2."""


class UserError(Exception):
    """A problem with the user's input or setup (config, data, run directory, cluster).

    Its message is one line: what is wrong, where, and how to fix it.
    """


class UsageError(UserError):
    """Command-line arguments that do not go together."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (what schedulers such as Slurm and Kubernetes send): stop as Ctrl-C does."""
