"""All models, re-exported so Alembic sees the whole metadata."""

from app.models.accounts import Account, AccountSession, AccountToken, TokenPurpose
from app.models.areas import Area, AreaKind
from app.models.base import Base
from app.models.donations import (
    Donation,
    DonationRefund,
    DonationStatus,
    RefundStatus,
    StripeEvent,
    StripeSignature,
)
from app.models.households import Household
from app.models.initiatives import (
    BudgetLine,
    Initiative,
    InitiativePhoto,
    InitiativeStatus,
    InitiativeTransition,
    Organiser,
)
from app.models.ledger import AccountKind, LedgerAccount, LedgerTransfer, TransferKind
from app.models.news import NewsItem, NewsKind
from app.models.ops import AuditEvent, IdempotencyKey, RateCounter
from app.models.outbox import OutboxMessage, OutboxStatus
from app.models.payouts import Payout, PayoutBatch, PayoutStatus
from app.models.pledges import Pledge
from app.models.staff import StaffArea, StaffMember, StaffRole, StaffSession
from app.models.vouchers import PeriodStatus, Voucher, VoucherPeriod, VoucherStatus

__all__ = [
    "Account",
    "AccountKind",
    "AccountSession",
    "AccountToken",
    "Area",
    "AreaKind",
    "AuditEvent",
    "Base",
    "BudgetLine",
    "Donation",
    "DonationRefund",
    "DonationStatus",
    "Household",
    "IdempotencyKey",
    "Initiative",
    "InitiativePhoto",
    "InitiativeStatus",
    "InitiativeTransition",
    "LedgerAccount",
    "LedgerTransfer",
    "NewsItem",
    "NewsKind",
    "Organiser",
    "OutboxMessage",
    "OutboxStatus",
    "Payout",
    "PayoutBatch",
    "PayoutStatus",
    "PeriodStatus",
    "Pledge",
    "RateCounter",
    "RefundStatus",
    "StaffArea",
    "StaffMember",
    "StaffRole",
    "StaffSession",
    "StripeEvent",
    "StripeSignature",
    "TokenPurpose",
    "TransferKind",
    "Voucher",
    "VoucherPeriod",
    "VoucherStatus",
]
