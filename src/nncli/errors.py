"""The project's exception types; only the CLI turns them into exit codes."""


class NncliError(Exception):
    """Base of every error nncli reports to the user as a message, not a traceback."""

    exit_code = 1


class UsageError(NncliError):
    """Bad config, option or input file: the user can fix it (exit code 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A config file or override that does not validate; may carry several problems."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class WriteError(UsageError):
    """A file could not be written (disk full, no permission); the previous version is kept."""


class RunFailedError(NncliError):
    """A run that started and could not finish, such as a diverging loss (exit code 1)."""

    exit_code = 1


class Interrupted(NncliError):
    """Training stopped on request (SIGINT or SIGTERM) after saving a resumable checkpoint."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code
