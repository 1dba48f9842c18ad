"""Each ERP's own shapes for master data: what its users may type as a job id, a vendor
id and type, a cost code with its category (Sage 300 CRE®) or cost type (Sage 100
Contractor®), and a sub job (an extra in Sage 300 CRE®, a phase in Sage 100 Contractor®).

The sandbox ERPs refuse what does not fit, as the ERPs' own screens do, and the
connectors check the same rules before anything is sent, so a refusal names the field.
A problem is ``(field, message)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Sub job ids (extras, phases) in both ERPs.
MAX_SUB_JOB_ID = 30
MAX_NAME = 30
MAX_COST_CODE_DESCRIPTION = 30


def mask_pattern(mask: str) -> re.Pattern:
    """A Sage 300 CRE® job mask ('##-####') as a pattern: '#' a digit, the rest literal."""
    return re.compile("".join("[0-9]" if char == "#" else re.escape(char) for char in mask) + r"\Z")


@dataclass(frozen=True)
class ErpFormats:
    """One ERP's rules. ``job_mask`` is per store (Sage 300 CRE®), so it is passed in."""

    erp_name: str
    vendor_id_pattern: str
    vendor_id_words: str
    vendor_types: tuple[str, ...]
    cost_code_pattern: str
    cost_code_words: str
    #: The cost code's pair: "category" or "cost type", and its values.
    cost_class_word: str
    cost_classes: dict[str, str]
    sub_job_word: str
    #: None: jobs follow the store's mask; else a pattern with its words.
    job_pattern: str | None = None
    job_words: str = ""

    def job_id_problems(self, job_id: str, *, mask: str) -> list[tuple[str, str]]:
        job_id = job_id or ""
        if self.job_pattern is not None:
            if not re.fullmatch(self.job_pattern, job_id):
                return [("job id", f"{job_id!r} is not a job number of {self.erp_name}: {self.job_words}.")]
            return []
        if not mask_pattern(mask).match(job_id):
            return [
                (
                    "job id",
                    f"{job_id!r} does not fit the job mask {mask} of {self.erp_name} "
                    "(# is a digit, the rest as shown).",
                )
            ]
        return []

    def vendor_problems(self, vendor_id: str, vendor_type: str) -> list[tuple[str, str]]:
        problems = []
        if not re.fullmatch(self.vendor_id_pattern, vendor_id or ""):
            problems.append(
                ("vendor id", f"{vendor_id!r} is not a vendor id of {self.erp_name}: {self.vendor_id_words}.")
            )
        if vendor_type not in self.vendor_types:
            problems.append(
                (
                    "vendor type",
                    f"{vendor_type!r} is not a vendor type of {self.erp_name}; use one of: "
                    f"{', '.join(self.vendor_types)}.",
                )
            )
        return problems

    def cost_code_problems(self, code: str, cost_class: str) -> list[tuple[str, str]]:
        problems = []
        if not re.fullmatch(self.cost_code_pattern, code or ""):
            problems.append(
                ("cost code", f"{code!r} is not a cost code of {self.erp_name}: {self.cost_code_words}.")
            )
        if cost_class not in self.cost_classes:
            choices = ", ".join(f"{key} ({label})" for key, label in self.cost_classes.items())
            problems.append(
                (
                    self.cost_class_word,
                    f"{cost_class!r} is not a {self.cost_class_word} of {self.erp_name}; "
                    f"use one of: {choices}.",
                )
            )
        return problems

    def name_problems(
        self, name: str, *, field: str = "name", limit: int = MAX_NAME
    ) -> list[tuple[str, str]]:
        if not (name or "").strip():
            return [(field, "is required.")]
        if len(name) > limit:
            return [(field, f"must be at most {limit} characters in {self.erp_name} (it has {len(name)}).")]
        return []

    def sub_job_problems(self, sub_job_id: str) -> list[tuple[str, str]]:
        if not (sub_job_id or "").strip():
            return [(f"{self.sub_job_word} id", "is required.")]
        if len(sub_job_id) > MAX_SUB_JOB_ID:
            return [
                (
                    f"{self.sub_job_word} id",
                    f"must be at most {MAX_SUB_JOB_ID} characters in {self.erp_name} "
                    f"(it has {len(sub_job_id)}).",
                )
            ]
        return []


def cost_code_erp_id(code: str, cost_class: str) -> str:
    """A cost code's id in the ERP: the code with its category or cost type."""
    return f"{code}:{cost_class}"


VENDOR_TYPES = ("Subcontractor", "Supplier", "Service", "Other")

SAGE_300 = ErpFormats(
    erp_name="Sage 300 CRE®",
    vendor_id_pattern=r"[A-Z0-9]{1,10}",
    vendor_id_words="1 to 10 capital letters or digits",
    vendor_types=VENDOR_TYPES,
    cost_code_pattern=r"[0-9]{1,3}(-[0-9]{1,4}){0,2}",
    cost_code_words="digits in up to three parts joined by '-', e.g. 03-300",
    cost_class_word="category",
    cost_classes={"L": "Labor", "M": "Material", "S": "Subcontract", "E": "Equipment", "O": "Other"},
    sub_job_word="extra",
)

SAGE_100 = ErpFormats(
    erp_name="Sage 100 Contractor®",
    vendor_id_pattern=r"[1-9][0-9]{0,5}",
    vendor_id_words="a number from 1 to 999999",
    vendor_types=VENDOR_TYPES,
    cost_code_pattern=r"[0-9]{1,6}(\.[0-9]{1,3})?",
    cost_code_words="a number of up to 6 digits, with up to 3 decimals, e.g. 3300 or 3300.100",
    cost_class_word="cost type",
    cost_classes={"1": "Material", "2": "Labor", "3": "Equipment", "4": "Subcontract", "5": "Other"},
    sub_job_word="phase",
    job_pattern=r"[1-9][0-9]{0,8}",
    job_words="a number from 1 to 999999999",
)

FORMATS: dict[str, ErpFormats] = {"sage300": SAGE_300, "sage100": SAGE_100}
