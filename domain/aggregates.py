"""Every aggregate of the engine. Importing this module registers their explicit topics
(``billing:Customer.Created``, ...), which a process must have done before it reads stored events."""

from domain.api_key import ApiKey
from domain.company import Company
from domain.consolidated_invoice import ConsolidatedInvoice
from domain.contract import Contract
from domain.credit_card import CreditCard
from domain.credit_card_invoice import CreditCardInvoice
from domain.customer import Customer
from domain.engagement import Engagement
from domain.individual_invoice import IndividualInvoice
from domain.invoice import Invoice
from domain.number_series import NumberSeries
from domain.timesheets import TimesheetEntry, TimesheetWeek

ALL = (Company, ApiKey, Customer, IndividualInvoice, ConsolidatedInvoice, NumberSeries, Contract, Invoice, Engagement, TimesheetEntry, TimesheetWeek,
       CreditCard, CreditCardInvoice)
