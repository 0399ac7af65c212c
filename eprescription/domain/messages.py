"""Sentences for people that keep a stable code and named parameters, so each face words them."""


class Message(str):
    """An English sentence (what the API and the logs say) that remembers its `code` and
    `params`: the pages look the code up in their table and word it in the page language
    (docs/languages.md), never by matching the English text."""

    code: str
    params: dict[str, object]

    def __new__(cls, code: str, english: str, /, **params: object) -> "Message":
        # A tuple of reasons reads as its items joined by "; " (each keeps its own code).
        shown = {k: "; ".join(v) if isinstance(v, tuple) else v for k, v in params.items()}
        message = super().__new__(cls, english.format(**shown))
        message.code, message.params = code, params
        return message

    def __reduce__(self):  # a copy (pickle, deepcopy) keeps the code and the parameters
        return _rebuild, (self.code, str(self), self.params)


def _rebuild(code: str, text: str, params: dict[str, object]) -> Message:
    message = str.__new__(Message, text)
    message.code, message.params = code, params
    return message
