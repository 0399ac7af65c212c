"""Field problems of a FHIR request, named by their FHIR path and refused all at once."""

from eprescription.domain import prescriptions
from eprescription.domain.errors import ValidationFailed


class Problems(prescriptions.Problems):
    """The domain's problem collector, keyed by FHIR path, raised as one ValidationFailed whose
    detail is `refusal` (its `{paths}`, if any, names the paths, sorted)."""

    def __init__(self, refusal: str) -> None:
        super().__init__()
        self.refusal_text = refusal

    def raise_any(self) -> None:
        if self:
            paths = ", ".join(sorted(self.errors))
            raise ValidationFailed(self.refusal_text.format(paths=paths), errors=self.errors)
