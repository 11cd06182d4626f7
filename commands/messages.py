"""Every command of the engine, in one place (issue 7): importing this module registers their handlers
(:data:`commands.bus.COMMAND_HANDLERS`). Entry points build one of these and call
:func:`commands.bus.handle`."""

from commands.api_keys import CreateApiKey, RevokeApiKey
from commands.card_import import ImportCards, ImportCharges
from commands.cards import (
    AddCard,
    ChargeCard,
    CloseStatement,
    DeleteStatement,
    InitStatements,
    MoveStatement,
    PayStatement,
    SetCardActive,
    SetRecurringCharge,
    SetStatementCycle,
    UpdateCard,
)
from commands.companies import AddTaxRate, SetCompany
from commands.consolidated import CreditConsolidated, PayConsolidated
from commands.contract_import import ImportContracts
from commands.contracts import (
    AddPosition,
    ChangePosition,
    CreateContract,
    EndContract,
    RemovePosition,
    SetContractActive,
    UpdateContract,
)
from commands.customer_import import ImportCustomers
from commands.engagements import CreateEngagement, EndEngagement, ImportEngagements, RenewEngagement, UpdateEngagement
from commands.customers import AddCustomer, ApproveCustomer, SetConsolidation, UpdateCustomer
from commands.individual_invoices import CancelIndividualInvoice, RecordInvoices
from commands.invoices import CreditInvoice, FinalizeInvoice, MarkSent, PayInvoice, VoidInvoice
from commands.ticking import Tick
from commands.timesheets import AddTimesheetEntry, CorrectTimesheetEntry, DeleteTimesheetEntry, ImportTimesheets, InvoiceTimesheetWeek, SetCustomerRate

__all__ = [
    "AddCard", "ChargeCard", "CloseStatement", "DeleteStatement", "ImportCards", "ImportCharges", "InitStatements",
    "MoveStatement", "PayStatement", "SetCardActive", "SetRecurringCharge", "SetStatementCycle", "UpdateCard",
    "AddCustomer", "AddPosition", "CreateApiKey", "RevokeApiKey", "AddTaxRate", "ApproveCustomer", "CancelIndividualInvoice", "ChangePosition",
    "AddTimesheetEntry", "CorrectTimesheetEntry", "DeleteTimesheetEntry", "ImportTimesheets", "InvoiceTimesheetWeek", "SetCustomerRate", "CreateContract", "CreateEngagement", "CreditConsolidated", "EndEngagement", "ImportEngagements", "RenewEngagement", "UpdateEngagement", "CreditInvoice", "EndContract", "FinalizeInvoice", "ImportContracts",
    "ImportCustomers", "MarkSent", "PayConsolidated", "PayInvoice", "RecordInvoices", "RemovePosition", "SetCompany",
    "SetConsolidation", "SetContractActive", "Tick", "UpdateContract", "UpdateCustomer", "VoidInvoice",
]
