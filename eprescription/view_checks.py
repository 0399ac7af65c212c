"""The decorator that checks a view's caller before the view runs, for pages and the API."""

from collections.abc import Callable
from functools import wraps


def checked_first(check: Callable[[], object]) -> Callable[[Callable], Callable]:
    """A view decorator: `check` runs before the view and raises to refuse the call; an answer
    it returns instead (a redirect to the login page) is given in place of the view's."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            answer = check()
            return view(*args, **kwargs) if answer is None else answer

        return wrapper

    return decorator
