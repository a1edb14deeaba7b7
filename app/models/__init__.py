"""All models, re-exported so Alembic sees the whole metadata."""

from app.models.areas import Area, AreaKind
from app.models.base import Base
from app.models.households import Household
from app.models.initiatives import Initiative, InitiativeStatus, InitiativeTransition
from app.models.ledger import AccountKind, LedgerAccount, LedgerTransfer, TransferKind
from app.models.ops import AuditEvent, IdempotencyKey, RateCounter
from app.models.pledges import Pledge
from app.models.vouchers import PeriodStatus, Voucher, VoucherPeriod, VoucherStatus

__all__ = [
    "AccountKind",
    "Area",
    "AreaKind",
    "AuditEvent",
    "Base",
    "Household",
    "IdempotencyKey",
    "Initiative",
    "InitiativeStatus",
    "InitiativeTransition",
    "LedgerAccount",
    "LedgerTransfer",
    "PeriodStatus",
    "Pledge",
    "RateCounter",
    "TransferKind",
    "Voucher",
    "VoucherPeriod",
    "VoucherStatus",
]
