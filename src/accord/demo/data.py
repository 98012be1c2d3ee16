"""The content of the demo: a small IT service provider, its people, customers,
services and categories, and the templates incidents and requests are made from.

Everything here is made up. E-mail addresses use the reserved example domains.
"""

from dataclasses import dataclass, field

from accord.catalogue.choices import ServiceStatus
from accord.core.policy import Role
from accord.incidents.choices import CategoryScope

PASSWORD = "accord-demo"
STAFF_DOMAIN = "example.com"

# --- people -------------------------------------------------------------------------
# (username, first name, last name, role, job title)
STAFF = [
    ("admin", "Robin", "Fischer", Role.ADMINISTRATOR, "Platform administrator"),
    ("agent", "Sam", "Taylor", Role.AGENT, "Service desk agent"),
    ("manager", "Maria", "Keller", Role.MANAGER, "Service desk manager"),
    ("owner", "Oliver", "Grant", Role.OWNER, "Service owner, business applications"),
    ("auditor", "Ingrid", "Dahl", Role.AUDITOR, "Internal auditor"),
    ("lena.vogel", "Lena", "Vogel", Role.AGENT, "Service desk agent"),
    ("tom.becker", "Tom", "Becker", Role.AGENT, "Service desk agent"),
    ("priya.nair", "Priya", "Nair", Role.AGENT, "Service desk and workplace agent"),
    ("jonas.lindqvist", "Jonas", "Lindqvist", Role.MANAGER, "Infrastructure lead"),
    ("carlos.mendes", "Carlos", "Mendes", Role.AGENT, "Network engineer"),
    ("hannah.schulz", "Hannah", "Schulz", Role.AGENT, "Systems engineer"),
    ("fatima.rahman", "Fatima", "Rahman", Role.MANAGER, "Applications lead"),
    ("daniel.novak", "Daniel", "Novak", Role.AGENT, "Application specialist (ERP and payroll)"),
    ("emma.laurent", "Emma", "Laurent", Role.MANAGER, "Workplace services lead"),
    ("lukas.wagner", "Lukas", "Wagner", Role.AGENT, "Workplace engineer (Microsoft 365)"),
]

# name -> (description, email, manager username, member usernames)
TEAMS = {
    "Service Desk": (
        "First line: takes every call, e-mail and portal request, fixes what it can and "
        "passes the rest to the right team.",
        "servicedesk@example.com",
        "manager",
        ["manager", "agent", "lena.vogel", "tom.becker", "priya.nair"],
    ),
    "Network & Infrastructure": (
        "LAN, Wi-Fi, VPN, firewalls, servers, storage and backup.",
        "infra@example.com",
        "jonas.lindqvist",
        ["jonas.lindqvist", "carlos.mendes", "hannah.schulz"],
    ),
    "Applications": (
        "Business applications: ERP, payroll, the customer portal and their integrations.",
        "apps@example.com",
        "fatima.rahman",
        ["fatima.rahman", "daniel.novak", "owner"],
    ),
    "Workplace Services": (
        "Laptops, desktops, printers, phones and Microsoft 365 on the desk.",
        "workplace@example.com",
        "emma.laurent",
        ["emma.laurent", "lukas.wagner", "priya.nair"],
    ),
}

# code -> customer facts. The teams serving each customer decide who sees its records:
# `agent` works in the Service Desk only, which does not serve Fabrikam.
CUSTOMERS = {
    "northwind": {
        "name": "Northwind Traders",
        "description": (
            "Food and beverage wholesaler: a head office and two warehouses, about 180 "
            "staff. Customer since 2019; full managed workplace and business applications."
        ),
        "domain": "northwind.example.org",
        "time_zone": "Europe/London",
        "teams": ["Service Desk", "Network & Infrastructure", "Workplace Services"],
        "sites": ["the head office", "the Harbour Road warehouse", "the Eastgate warehouse"],
        "weight": 40,
    },
    "contoso": {
        "name": "Contoso Health",
        "description": (
            "A group of outpatient clinics and a day hospital, about 140 staff and a "
            "number of remote clinicians. Customer since 2021; strict hours for clinical "
            "systems."
        ),
        "domain": "contoso.example.org",
        "time_zone": "Europe/Berlin",
        "teams": ["Service Desk", "Network & Infrastructure", "Applications"],
        "sites": ["the Riverside clinic", "the day hospital", "the Parkview clinic"],
        "weight": 35,
    },
    "fabrikam": {
        "name": "Fabrikam Logistics",
        "description": (
            "Road freight and warehousing with depots in three countries, about 220 staff, "
            "many of them drivers and warehouse workers on shared devices."
        ),
        "domain": "fabrikam.example.net",
        "time_zone": "Europe/Amsterdam",
        "teams": ["Network & Infrastructure", "Applications", "Workplace Services"],
        "sites": ["the Rotterdam depot", "the Hamburg hub", "the Antwerp cross-dock"],
        "weight": 25,
    },
}

# (customer code, username or None for a contact without a login, first, last, job title,
#  phone, caller weight)
CONTACTS = [
    ("northwind", "customer-a", "Nancy", "Davolio", "Office manager", "+44 20 7946 0101", 3),
    ("northwind", "andrew.fuller", "Andrew", "Fuller", "Sales director", "+44 20 7946 0102", 1),
    ("northwind", "janet.leverling", "Janet", "Leverling", "Accountant", "+44 20 7946 0103", 1),
    ("northwind", "robert.king", "Robert", "King", "Warehouse lead", "+44 20 7946 0104", 1),
    ("northwind", None, "Margaret", "Peacock", "Managing director", "+44 20 7946 0100", 0),
    ("northwind", None, "Steven", "Buchanan", "Operations manager", "+44 20 7946 0105", 0),
    ("contoso", "customer-b", "Grace", "Okafor", "Clinic operations lead", "+49 30 5550 201", 3),
    ("contoso", "ravi.shah", "Ravi", "Shah", "Radiology coordinator", "+49 30 5550 202", 1),
    ("contoso", "sofia.marino", "Sofia", "Marino", "HR advisor", "+49 30 5550 203", 1),
    ("contoso", "ben.carter", "Ben", "Carter", "Finance clerk", "+49 30 5550 204", 1),
    ("contoso", None, "Helen", "Brooks", "Medical director", "+49 30 5550 200", 0),
    ("contoso", None, "Mark", "Ellison", "IT liaison", "+49 30 5550 205", 0),
    ("fabrikam", "jan.kowalski", "Jan", "Kowalski", "Dispatch supervisor", "+31 10 555 0301", 1),
    ("fabrikam", "chloe.dubois", "Chloé", "Dubois", "Finance manager", "+31 10 555 0302", 1),
    ("fabrikam", "ahmed.hassan", "Ahmed", "Hassan", "Warehouse manager", "+31 10 555 0303", 1),
    ("fabrikam", None, "Peter", "Jansen", "Chief operating officer", "+31 10 555 0300", 0),
    ("fabrikam", None, "Olga", "Ivanova", "Procurement lead", "+31 10 555 0304", 0),
]

# --- catalogue -----------------------------------------------------------------------
HOURS_24X7 = "24x7"
HOURS_BUSINESS = "Business hours (Mon-Fri 08:00-18:00 CET)"
HOURS_EXTENDED = "Extended hours (Mon-Sat 07:00-22:00 CET)"

SERVICE_HOURS = {
    HOURS_24X7: "Around the clock, every day of the year, including public holidays.",
    HOURS_BUSINESS: "Monday to Friday 08:00-18:00 Central European Time, except public holidays.",
    HOURS_EXTENDED: "Monday to Saturday 07:00-22:00 Central European Time, except public holidays.",
}

# name -> (time zone, weekly hours, public holidays of (country, region)); the service
# hours above, as the clocks count them.
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
CALENDARS = {
    HOURS_24X7: ("UTC", {d: [["00:00", "24:00"]] for d in (*_WEEKDAYS, "sat", "sun")}, None),
    HOURS_BUSINESS: ("Europe/Berlin", {d: [["08:00", "18:00"]] for d in _WEEKDAYS}, ("DE", None)),
    HOURS_EXTENDED: (
        "Europe/Berlin",
        {d: [["07:00", "22:00"]] for d in (*_WEEKDAYS, "sat")},
        ("DE", None),
    ),
}

# Agreements: (name, kind, customer code or None, calendar, services ([] = all),
#   {priority: (response minutes, resolution hours)}, supports, team, supplier,
#   escalations [(at %, metric, action, team)])
AGREEMENTS = [
    (
        "Northwind Managed Workplace SLA",
        "sla",
        "northwind",
        HOURS_BUSINESS,
        [],
        {1: (15, 4), 2: (30, 8), 3: (60, 24), 4: (240, 40), 5: (480, 80)},
        [],
        None,
        "",
        [(90, "resolution", "notify_manager", None), (100, "resolution", "raise_priority", None)],
    ),
    (
        "Contoso Clinical Systems SLA",
        "sla",
        "contoso",
        HOURS_24X7,
        [],
        {1: (15, 2), 2: (30, 6), 3: (120, 24), 4: (240, 72), 5: (480, 120)},
        [],
        None,
        "",
        [(75, "resolution", "notify_manager", None)],
    ),
    (
        "Network & Infrastructure OLA",
        "ola",
        None,
        HOURS_BUSINESS,
        [],
        {1: (10, 3), 2: (20, 6), 3: (60, 20)},
        ["Northwind Managed Workplace SLA", "Contoso Clinical Systems SLA"],
        "Network & Infrastructure",
        "",
        [],
    ),
]

EMAIL = "Email and Calendar"
OFFICE = "Office Suite (Microsoft 365 Apps)"
PAYROLL = "Payroll"
ERP = "ERP (Finance)"
PORTAL = "Customer Portal"
VPN = "VPN Remote Access"
NETWORK = "Network (LAN/WLAN)"
DEVICES = "Laptop and Desktop Support"
PRINTING = "Printing"
IDENTITY = "Identity and Access (SSO)"
BACKUP = "Backup and Restore"
TELEPHONY = "Telephony (legacy PBX)"
HR = "HR System"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    description: str
    status: str
    owner: str
    team: str
    hours: str
    customers: tuple
    depends_on: tuple = ()


SERVICES = [
    ServiceSpec(
        EMAIL,
        "Mailboxes, shared mailboxes, distribution lists and calendars in Exchange Online, "
        "with the mail gateway that filters spam and malware. Includes Outlook on the "
        "desktop, the web and mobile phones, and mailbox restores up to 30 days back.",
        ServiceStatus.LIVE,
        "owner",
        "Workplace Services",
        HOURS_24X7,
        ("northwind", "contoso", "fabrikam"),
        (NETWORK, IDENTITY),
    ),
    ServiceSpec(
        OFFICE,
        "Word, Excel, PowerPoint, Teams and OneDrive on managed laptops and desktops: "
        "installation, updates, licences and help with sharing and co-authoring. Power "
        "users' macros and add-ins are supported on a best-effort basis.",
        ServiceStatus.LIVE,
        "owner",
        "Workplace Services",
        HOURS_BUSINESS,
        ("northwind", "contoso"),
        (IDENTITY, EMAIL),
    ),
    ServiceSpec(
        PAYROLL,
        "Monthly and weekly payroll runs, payslips in the self-service portal, the SEPA "
        "payment file for the bank and the year-end statements. Changes for the current "
        "month must reach us by the 20th.",
        ServiceStatus.LIVE,
        "owner",
        "Applications",
        HOURS_BUSINESS,
        ("contoso", "fabrikam"),
        (ERP, IDENTITY),
    ),
    ServiceSpec(
        ERP,
        "The finance modules of the ERP system: general ledger, purchase and sales "
        "invoices, cost centres, month-end close and financial reporting. Includes user "
        "roles and approval limits, maintained on the finance director's request.",
        ServiceStatus.LIVE,
        "owner",
        "Applications",
        HOURS_EXTENDED,
        ("northwind", "fabrikam"),
        (NETWORK, IDENTITY),
    ),
    ServiceSpec(
        PORTAL,
        "Northwind's online ordering portal for its trade customers: catalogue and price "
        "lists, orders, order confirmations and customer accounts. Hosted and monitored "
        "around the clock; content changes are made by Northwind's sales team.",
        ServiceStatus.LIVE,
        "owner",
        "Applications",
        HOURS_24X7,
        ("northwind",),
        (IDENTITY, NETWORK),
    ),
    ServiceSpec(
        VPN,
        "Secure remote access to internal systems from home and on the road, with the "
        "VPN client on managed laptops and sign-in through single sign-on with "
        "multi-factor authentication.",
        ServiceStatus.LIVE,
        "jonas.lindqvist",
        "Network & Infrastructure",
        HOURS_24X7,
        ("northwind", "contoso", "fabrikam"),
        (NETWORK, IDENTITY),
    ),
    ServiceSpec(
        NETWORK,
        "Wired and wireless networks at every customer site: switches, access points, "
        "guest Wi-Fi, firewalls and internet lines, monitored around the clock. Moves "
        "and new desk ports are ordered as service requests.",
        ServiceStatus.LIVE,
        "jonas.lindqvist",
        "Network & Infrastructure",
        HOURS_24X7,
        ("northwind", "contoso", "fabrikam"),
    ),
    ServiceSpec(
        DEVICES,
        "Managed laptops, desktops, monitors, docking stations and headsets: ordering, "
        "imaging, repairs under warranty, loan devices, software installation from the "
        "approved catalogue and secure wiping when a device is returned.",
        ServiceStatus.LIVE,
        "owner",
        "Workplace Services",
        HOURS_BUSINESS,
        ("northwind", "contoso", "fabrikam"),
    ),
    ServiceSpec(
        PRINTING,
        "Multifunction printers and label printers with follow-me printing, scan to "
        "e-mail and toner delivered before it runs out. Hardware faults are fixed by the "
        "printer supplier within the next business day.",
        ServiceStatus.LIVE,
        "owner",
        "Workplace Services",
        HOURS_BUSINESS,
        ("northwind", "fabrikam"),
        (NETWORK,),
    ),
    ServiceSpec(
        IDENTITY,
        "User accounts, groups, single sign-on to cloud applications, multi-factor "
        "authentication and self-service password reset. Joiners, movers and leavers are "
        "handled as requests from the customer's HR or line managers.",
        ServiceStatus.LIVE,
        "owner",
        "Service Desk",
        HOURS_24X7,
        ("northwind", "contoso", "fabrikam"),
    ),
    ServiceSpec(
        BACKUP,
        "Nightly backup of servers, file shares and Microsoft 365 data, kept for 90 days "
        "with a monthly copy kept for seven years. Restores of files, folders, mailboxes "
        "and whole servers on request.",
        ServiceStatus.LIVE,
        "jonas.lindqvist",
        "Network & Infrastructure",
        HOURS_24X7,
        ("contoso", "fabrikam"),
        (NETWORK,),
    ),
    ServiceSpec(
        TELEPHONY,
        "The on-premises telephone exchange and desk phones at Northwind's head office. "
        "Replaced by Teams calling in the spring; kept in the catalogue until the "
        "hardware has been collected.",
        ServiceStatus.RETIRED,
        "jonas.lindqvist",
        "Network & Infrastructure",
        HOURS_BUSINESS,
        ("northwind",),
        (NETWORK,),
    ),
    ServiceSpec(
        HR,
        "A new HR system for Contoso Health: personnel records, leave requests and "
        "onboarding checklists, feeding new starters to Payroll and Identity and Access. "
        "In design; the pilot with the HR team is planned for next quarter.",
        ServiceStatus.PIPELINE,
        "owner",
        "Applications",
        HOURS_BUSINESS,
        ("contoso",),
        (IDENTITY, PAYROLL),
    ),
]

# (parent, name, applies to)
BOTH, INC, REQ = CategoryScope.BOTH, CategoryScope.INCIDENT, CategoryScope.REQUEST
CATEGORIES = [
    (None, "Hardware", BOTH),
    ("Hardware", "Laptop", INC),
    ("Hardware", "Desktop", INC),
    ("Hardware", "Monitor and peripherals", INC),
    ("Hardware", "Printer", INC),
    ("Hardware", "Mobile phone", INC),
    (None, "Software", BOTH),
    ("Software", "Email", BOTH),
    ("Software", "Office apps", INC),
    ("Software", "ERP", BOTH),
    ("Software", "Payroll", BOTH),
    ("Software", "Customer portal", BOTH),
    (None, "Network", INC),
    ("Network", "VPN", INC),
    ("Network", "Wi-Fi", INC),
    ("Network", "LAN and cabling", INC),
    (None, "Access", BOTH),
    ("Access", "Sign-in problem", INC),
    ("Access", "Password reset", BOTH),
    ("Access", "Multi-factor authentication", BOTH),
    ("Access", "New account", REQ),
    ("Access", "Permissions", REQ),
    ("Access", "Leaver", REQ),
    (None, "Infrastructure", BOTH),
    ("Infrastructure", "Backup and restore", BOTH),
    ("Infrastructure", "Server", INC),
    (None, "Request", REQ),
    ("Request", "New laptop", REQ),
    ("Request", "Software install", REQ),
    ("Request", "Mailbox or distribution list", REQ),
    ("Request", "Peripheral", REQ),
    ("Request", "Printer consumables", REQ),
    ("Request", "Guest Wi-Fi", REQ),
    ("Request", "Information", REQ),
]


# --- incident and request templates ---------------------------------------------------
@dataclass(frozen=True)
class Template:
    """What a record is about. Text may use the placeholders filled per record:
    {site} {floor} {starter} {dept} {date} {software} {share} {group} {mailbox}
    {saas} {report} {case} {weekday} {count}."""

    service: str
    category: str
    short: str
    description: str
    fix: str
    severity: str = "mid"  # low / mid / high: how impact and urgency are drawn
    note: str = ""  # a diagnosis work note
    workaround: str = ""  # when set, some records end "solved by workaround"
    internal: bool = False  # found by staff (monitoring): the caller is the staff member


I = Template  # noqa: E741 (short alias for the table below)

INCIDENTS = [
    I(
        EMAIL,
        "Software / Email",
        "Outlook keeps asking for password",
        "Since this morning Outlook asks for my password every few minutes, even right "
        "after I type it in. Webmail works fine.",
        "Removed the stale credentials from Windows Credential Manager and re-created the "
        "Outlook profile; the prompts have stopped.",
        note="Sign-in logs show repeated failures from an old phone with a saved password.",
    ),
    I(
        EMAIL,
        "Software / Email",
        "Shared mailbox {mailbox} disappeared from Outlook",
        "The {mailbox} shared mailbox is no longer shown in my Outlook since the weekend. "
        "My colleagues still see it and we need it to answer customers.",
        "Re-applied the mailbox permission with auto-mapping; it appears again after "
        "restarting Outlook.",
        workaround="Added the mailbox in Outlook on the web until auto-mapping catches up.",
    ),
    I(
        EMAIL,
        "Software / Email",
        "Emails to a customer bounce with 550 5.7.1",
        "Mail to one of our biggest customers bounces with '550 5.7.1 message rejected'. "
        "It worked last week and we have quotes waiting to go out.",
        "The recipient's filter had blocked our gateway after an SPF change on their "
        "side; they added our domain to their allow list and mail is delivered again.",
        severity="high",
        note="Message trace: rejected by the recipient's gateway, not ours.",
    ),
    I(
        EMAIL,
        "Software / Email",
        "Mailbox full, cannot send email",
        "Outlook says my mailbox is full and I cannot send anything. I have to send "
        "invoices out today.",
        "Enabled the online archive and archived mail older than two years; the mailbox "
        "is at 45% now.",
        severity="high",
    ),
    I(
        EMAIL,
        "Software / Email",
        "Meeting invites arrive without the Teams link",
        "Invitations I send from Outlook no longer include the Teams meeting link, so "
        "external guests cannot join.",
        "Re-enabled the Teams meeting add-in, which Outlook had disabled after a slow start.",
        severity="low",
    ),
    I(
        EMAIL,
        "Software / Email",
        "Not receiving emails from {saas}",
        "Notifications from {saas} stopped arriving two days ago. Colleagues who use the "
        "same system still get them.",
        "The messages were quarantined as bulk mail; released them and added the sender "
        "to the gateway's allow list.",
        severity="low",
    ),
    I(
        OFFICE,
        "Software / Office apps",
        "Excel crashes when opening {report}",
        "Excel closes without any message as soon as I open {report}. Other workbooks open fine.",
        "A faulty add-in loaded with the workbook; disabled it and repaired the Office "
        "installation.",
        workaround="The workbook opens in Excel for the web in the meantime.",
    ),
    I(
        OFFICE,
        "Software / Office apps",
        "Teams says 'we couldn't connect' and won't sign in",
        "Teams shows 'We couldn't connect you' after the update this morning. Outlook "
        "and the browser work.",
        "Cleared the Teams cache and reinstalled the new Teams client.",
    ),
    I(
        OFFICE,
        "Software / Office apps",
        "Word file locked for editing, nobody has it open",
        "Word says {report} is locked for editing by a colleague who is on holiday and "
        "has not had it open for days.",
        "Removed the orphaned lock file from the SharePoint library; the document opens "
        "for editing again.",
        severity="low",
    ),
    I(
        OFFICE,
        "Software / Office apps",
        "OneDrive stuck on 'processing changes'",
        "OneDrive has been showing 'processing changes' since yesterday and my files do "
        "not sync to my other laptop.",
        "A file with a name too long for sync blocked the queue; shortened it and reset "
        "the OneDrive client.",
        severity="low",
    ),
    I(
        PAYROLL,
        "Software / Payroll",
        "Payslips not visible in the self-service portal",
        "Staff in {dept} cannot see this month's payslip in the portal; last month's is there.",
        "The publication step of this month's run had not been released; released it and "
        "the payslips show.",
    ),
    I(
        PAYROLL,
        "Software / Payroll",
        "Bank rejects the payroll payment file",
        "The SEPA payment file exported from Payroll is rejected by the bank's upload "
        "with 'invalid XML'. Salaries must go out by {weekday}.",
        "An employee record had a bank account number with a space; corrected it, "
        "regenerated the file and the bank accepted it.",
        severity="high",
        note="Validated the file against the pain.001 schema: error on one IBAN element.",
    ),
    I(
        PAYROLL,
        "Software / Payroll",
        "Overtime missing from this month's payroll run",
        "Overtime approved in the time system for the {dept} team is missing from the "
        "test run of this month's payroll.",
        "The interface from the time system failed on the 18th; re-ran it and the "
        "overtime is in the run now.",
    ),
    I(
        ERP,
        "Software / ERP",
        "ERP very slow when posting invoices",
        "Posting a purchase invoice takes two to three minutes since yesterday; usually "
        "it is instant. Everyone in finance has the same.",
        "Rebuilt the fragmented indexes of the ledger tables and added the missing "
        "statistics job to the nightly maintenance.",
        severity="high",
        note="Database shows long waits on the ledger entry table; index fragmentation 87%.",
    ),
    I(
        ERP,
        "Software / ERP",
        "Cannot print delivery notes from the ERP",
        "Printing delivery notes from the ERP gives 'report server unavailable'. The "
        "trucks are waiting at {site}.",
        "Restarted the report service, which had run out of memory, and raised its limit.",
        severity="high",
        workaround="Delivery notes exported to PDF and printed from the desktop.",
    ),
    I(
        ERP,
        "Software / ERP",
        "Month-end close job failed",
        "The month-end close job ended with an error in the currency revaluation step.",
        "Exchange rates for the last day of the month were missing; loaded them and "
        "re-ran the close.",
        note="Job log: no rate found for USD on the closing date.",
    ),
    I(
        ERP,
        "Software / ERP",
        "'Period is closed' when booking into the current month",
        "I get 'posting period is closed' when I try to book an invoice dated this month.",
        "The new period had not been opened for the purchase ledger; opened it after the "
        "finance manager's approval.",
        severity="low",
    ),
    I(
        PORTAL,
        "Software / Customer portal",
        "Trade customers cannot reset their portal password",
        "Several trade customers called to say the 'forgot password' e-mail of the "
        "ordering portal never arrives.",
        "The portal's mail relay credentials had expired; renewed them and the reset "
        "e-mails are sent again.",
        severity="high",
    ),
    I(
        PORTAL,
        "Software / Customer portal",
        "Customer portal shows the old price list",
        "The ordering portal still shows last month's prices although the new price list "
        "was loaded on Monday.",
        "The nightly import had skipped the file because of a changed column name; fixed "
        "the mapping and re-imported.",
    ),
    I(
        PORTAL,
        "Software / Customer portal",
        "Order confirmations from the portal not sent",
        "Customers placing orders on the portal do not receive the order confirmation. "
        "Orders themselves come through.",
        "The confirmation queue was stuck on a malformed address; removed the message "
        "and the backlog of {count} confirmations went out.",
    ),
    I(
        VPN,
        "Network / VPN",
        "VPN disconnects every 10 minutes",
        "Working from home, the VPN drops every ten minutes or so and I lose my ERP "
        "session each time.",
        "Updated the VPN client to the current version, which fixes the keep-alive bug.",
        note="Client log shows DPD timeouts; the user is on an old client version.",
    ),
    I(
        VPN,
        "Network / VPN",
        "VPN client says 'certificate expired'",
        "The VPN will not connect: 'the server certificate has expired'. I am travelling "
        "and cannot reach anything.",
        "The laptop had not received the new root certificate; pushed it through device "
        "management.",
        severity="high",
    ),
    I(
        VPN,
        "Network / VPN",
        "VPN connects but the file share is unreachable",
        "The VPN says connected, but the {share} share and the intranet do not open.",
        "The user's home router uses the same address range as the office; added the "
        "internal routes with higher priority to the VPN profile.",
        severity="low",
    ),
    I(
        NETWORK,
        "Network / Wi-Fi",
        "Wi-Fi drops in the {floor} meeting rooms",
        "In the meeting rooms on the {floor} at {site} the Wi-Fi keeps dropping during "
        "video calls.",
        "Replaced a faulty access point and moved two rooms to the 5 GHz band.",
        note="Controller shows one access point rebooting every 20 minutes.",
    ),
    I(
        NETWORK,
        "Network / LAN and cabling",
        "No network on the desk ports at {site}",
        "None of the wired desk ports in the office at {site} work since this morning. "
        "Wi-Fi works.",
        "The access switch had lost power after electrical work; restored power and "
        "moved it onto the UPS.",
        severity="high",
    ),
    I(
        NETWORK,
        "Network / Wi-Fi",
        "Guest Wi-Fi login page does not appear",
        "Visitors at {site} connect to the guest Wi-Fi, but the login page never opens.",
        "The captive portal certificate had expired; renewed it.",
        severity="low",
    ),
    I(
        NETWORK,
        "Network / LAN and cabling",
        "Network very slow at {site}",
        "Everything is slow at {site} since this morning: files, e-mail and the ERP.",
        "A backup job had been scheduled in business hours over the site link; moved it "
        "back to the night and applied traffic shaping.",
        severity="high",
    ),
    I(
        NETWORK,
        "Network / LAN and cabling",
        "Monitoring: port errors on the core switch at {site}",
        "Monitoring reports a rising CRC error count on an uplink port of the core switch "
        "at {site}.",
        "Replaced the faulty fibre patch cable; the error counters have stayed at zero since.",
        internal=True,
    ),
    I(
        DEVICES,
        "Hardware / Laptop",
        "Laptop won't boot, stuck on the logo",
        "My laptop stays on the manufacturer logo after switching on. I have a "
        "presentation this afternoon.",
        "The disk had failed; swapped in a loan laptop and sent the laptop for warranty repair.",
        severity="high",
        workaround="Loan laptop issued while the laptop is repaired.",
    ),
    I(
        DEVICES,
        "Hardware / Laptop",
        "Laptop battery drains within an hour",
        "The battery of my laptop is empty after about an hour, even with only e-mail open.",
        "Battery health was at 41%; replaced the battery under warranty.",
        severity="low",
    ),
    I(
        DEVICES,
        "Hardware / Monitor and peripherals",
        "Docking station does not detect the external monitors",
        "Since the update yesterday my two monitors stay black when the laptop is in the "
        "docking station.",
        "Updated the docking station firmware and the display driver.",
    ),
    I(
        DEVICES,
        "Hardware / Laptop",
        "BitLocker recovery key asked at startup",
        "My laptop asks for a BitLocker recovery key when it starts. I have not changed anything.",
        "Gave the user the recovery key after verifying their identity, then suspended "
        "and resumed protection after the firmware update that triggered it.",
        severity="high",
    ),
    I(
        DEVICES,
        "Hardware / Laptop",
        "Several keys on the laptop keyboard do not work",
        "The E, R and T keys of my laptop stopped working. An external keyboard works.",
        "Keyboard replaced by the supplier under warranty.",
        severity="low",
        workaround="External keyboard given until the repair.",
    ),
    I(
        DEVICES,
        "Hardware / Desktop",
        "Reception PC very slow",
        "The PC at reception at {site} takes ages to open anything, and visitors are "
        "waiting to sign in.",
        "Replaced the failing hard disk with an SSD and restored the standard image.",
    ),
    I(
        DEVICES,
        "Hardware / Mobile phone",
        "Company phone stopped syncing email",
        "My company phone has not received new e-mail since Friday. Calendar is also out of date.",
        "The device had dropped out of device management after an OS update; re-enrolled it.",
        severity="low",
    ),
    I(
        PRINTING,
        "Hardware / Printer",
        "Printer on the {floor} jams on every job",
        "The multifunction printer on the {floor} at {site} jams on almost every job.",
        "The supplier's engineer replaced the worn pickup rollers.",
        severity="low",
    ),
    I(
        PRINTING,
        "Hardware / Printer",
        "Cannot print to the label printer in the warehouse",
        "The shipping label printer at {site} does not print; the queue shows 'error'. "
        "Parcels cannot leave.",
        "The printer had taken a new IP address after a power cut; gave it a fixed "
        "reservation and cleared the queue.",
        severity="high",
    ),
    I(
        PRINTING,
        "Hardware / Printer",
        "Scan to email stopped working",
        "Scanning to e-mail from the printer on the {floor} gives 'send failed'.",
        "The scanner's SMTP account password had expired; moved it to the relay that "
        "needs no password.",
    ),
    I(
        PRINTING,
        "Hardware / Printer",
        "Printer offline for everyone at {site}",
        "All printers at {site} show as offline for everybody since this morning.",
        "The print server's spooler had stopped; restarted it and set it to restart on failure.",
        severity="high",
    ),
    I(
        IDENTITY,
        "Access / Sign-in problem",
        "Account locked out after password change",
        "I changed my password this morning and now my account keeps getting locked.",
        "An old session on a second laptop kept trying the previous password; signed it "
        "out and unlocked the account.",
    ),
    I(
        IDENTITY,
        "Access / Multi-factor authentication",
        "MFA prompts not arriving on the new phone",
        "I moved to a new phone and the authenticator app gets no sign-in prompts.",
        "Removed the old device registration and re-registered the app on the new phone.",
        severity="low",
    ),
    I(
        IDENTITY,
        "Access / Sign-in problem",
        "Single sign-on to {saas} fails",
        "Signing in to {saas} gives 'you are not assigned to this application'.",
        "Added the user to the group that grants access to the application.",
        severity="low",
    ),
    I(
        BACKUP,
        "Infrastructure / Backup and restore",
        "Monitoring: nightly backup of the file server failed",
        "The backup job of the file server at {site} failed last night with 'snapshot "
        "could not be created'.",
        "Cleared the stuck snapshot on the hypervisor and re-ran the backup, which completed.",
        internal=True,
    ),
    I(
        BACKUP,
        "Infrastructure / Backup and restore",
        "Monitoring: backup completed with warnings, {count} VMs skipped",
        "Last night's backup completed with warnings: {count} virtual machines were skipped.",
        "The skipped machines had been moved to a new host not in the backup policy; "
        "added the host.",
        severity="low",
        internal=True,
    ),
    I(
        BACKUP,
        "Infrastructure / Server",
        "Monitoring: file server disk 95% full",
        "The data volume of the file server at {site} is 95% full and growing.",
        "Extended the volume by 500 GB and set up a report of the largest folders for the "
        "customer.",
        internal=True,
    ),
]

R = Template

REQUESTS = [
    R(
        DEVICES,
        "Request / New laptop",
        "Request: new starter laptop for {starter}",
        "{starter} joins the {dept} team on {date}. Please prepare a standard laptop with "
        "docking station and headset.",
        "Laptop imaged, enrolled in device management and handed over with dock and headset.",
        severity="mid",
    ),
    R(
        IDENTITY,
        "Access / New account",
        "Request: new account for {starter} ({dept})",
        "Please create an account and mailbox for {starter}, starting in {dept} on {date}. "
        "Same access as the rest of the team.",
        "Account and mailbox created, added to the {dept} groups and licensed; the "
        "first-day password was given to the line manager.",
        severity="mid",
    ),
    R(
        DEVICES,
        "Request / Software install",
        "Request: install {software}",
        "Could you install {software} on my laptop? I need it for a project starting next week.",
        "Installed {software} from the software centre and assigned a licence.",
        severity="low",
    ),
    R(
        IDENTITY,
        "Access / Permissions",
        "Request: access to the {share} share",
        "I need read and write access to the {share} share for the quarter-end work.",
        "Added to the share's read/write group after approval from the data owner.",
        severity="low",
    ),
    R(
        EMAIL,
        "Request / Mailbox or distribution list",
        "Request: new distribution list {group}",
        "Please create a distribution list {group} with the people in the attached list, "
        "so we can reach the whole team at once.",
        "Distribution list created with {count} members; the requester can manage "
        "membership in Outlook.",
        severity="low",
    ),
    R(
        EMAIL,
        "Request / Mailbox or distribution list",
        "Request: shared mailbox for the {dept} team",
        "We would like a shared mailbox for the {dept} team so customer questions do not "
        "depend on one person's inbox.",
        "Shared mailbox created and given to the team members with send-as rights.",
        severity="low",
    ),
    R(
        IDENTITY,
        "Access / Leaver",
        "Request: leaver {starter}, disable account and collect laptop",
        "{starter} leaves us on {date}. Please disable the account after the last day, "
        "give the mailbox to the manager and collect the laptop.",
        "Account disabled, mailbox converted to shared and given to the manager, laptop "
        "collected and wiped.",
        severity="mid",
    ),
    R(
        DEVICES,
        "Request / Peripheral",
        "Request: second monitor for home office",
        "I work from home three days a week; could I get a second monitor and a docking "
        "station for home?",
        "Monitor and docking station delivered to the home address by courier.",
        severity="low",
    ),
    R(
        DEVICES,
        "Request / Peripheral",
        "Request: replacement headset",
        "My headset's microphone broke. Could I have a replacement? I'm on calls all day.",
        "New headset handed out at the service desk.",
        severity="low",
    ),
    R(
        ERP,
        "Software / ERP",
        "Request: ERP approver role for purchase orders",
        "Please give me the purchase order approver role in the ERP; I take over the "
        "budget of the {dept} team.",
        "Granted the approver role up to the limit approved by the finance director.",
        severity="low",
    ),
    R(
        ERP,
        "Software / ERP",
        "Request: new cost centre in the ERP",
        "Please create a new cost centre for the {dept} project from the first of next "
        "month, under the existing operations hierarchy.",
        "Cost centre created and added to the reporting hierarchy.",
        severity="low",
    ),
    R(
        VPN,
        "Access / Permissions",
        "Request: VPN access for external consultant {starter}",
        "{starter}, a consultant working with us until the end of the quarter, needs VPN "
        "access to the ERP test system.",
        "Guest account with VPN access created, limited to the test system and expiring "
        "at the end of the quarter.",
        severity="low",
    ),
    R(
        BACKUP,
        "Infrastructure / Backup and restore",
        "Request: restore deleted folder from last week",
        "A folder in the {share} share was deleted by mistake last week. Could you "
        "restore it as it was on Friday?",
        "Restored the folder from Friday's backup to its original place ({count} files).",
        severity="mid",
    ),
    R(
        PAYROLL,
        "Software / Payroll",
        "Request: payroll report for the auditors",
        "The external auditors need the year-to-date payroll journal by cost centre. "
        "Could you produce it as Excel?",
        "Report produced and shared with the requester through a secure link.",
        severity="low",
    ),
    R(
        PAYROLL,
        "Software / Payroll",
        "Request: add new hire {starter} before the payroll cut-off",
        "{starter} started in {dept} this week; please make sure they are in this "
        "month's payroll run.",
        "Employee added to payroll with the contract details from HR.",
        severity="mid",
    ),
    R(
        EMAIL,
        "Request / Information",
        "Request: how to set an out-of-office on my phone",
        "How do I turn on my out-of-office reply from the Outlook app on my phone?",
        "Sent the step-by-step guide; the user set it up.",
        severity="low",
    ),
    R(
        PRINTING,
        "Request / Printer consumables",
        "Request: toner for the printer on the {floor}",
        "The printer on the {floor} at {site} says toner low (black). Could you send "
        "a new cartridge?",
        "Toner delivered by the supplier and installed.",
        severity="low",
    ),
    R(
        NETWORK,
        "Request / Guest Wi-Fi",
        "Request: guest Wi-Fi for visitors on {date}",
        "We have {count} visitors at {site} on {date} for a workshop. Could they have "
        "guest Wi-Fi access for the day?",
        "Day vouchers created and sent to the requester.",
        severity="low",
    ),
    R(
        PORTAL,
        "Software / Customer portal",
        "Request: portal account for a new trade customer",
        "Please set up a portal account for a new trade customer so they can order "
        "online from next week.",
        "Portal account created and the welcome e-mail sent to the customer's buyer.",
        severity="low",
    ),
    R(
        OFFICE,
        "Request / Software install",
        "Request: Visio licence",
        "I need Visio to draw process maps for the {dept} team.",
        "Assigned a Visio licence; it installed through the software centre.",
        severity="low",
    ),
    R(
        IDENTITY,
        "Access / Multi-factor authentication",
        "Request: reset MFA for a new phone",
        "My phone was replaced and I can't approve sign-ins any more. Please reset my "
        "multi-factor registration.",
        "Verified the caller's identity by a call-back and reset the MFA registration.",
        severity="mid",
    ),
    R(
        IDENTITY,
        "Access / Password reset",
        "Request: password reset for {saas}",
        "I have forgotten my password for {saas} and self-service reset does not offer "
        "it. Could you reset it?",
        "Password reset after a call-back; the user chose a new one at first sign-in.",
        severity="mid",
    ),
]

# --- values filled into the templates ------------------------------------------------
FILLS = {
    "floor": ["ground floor", "1st floor", "2nd floor", "3rd floor"],
    "starter": [
        "J. Smith",
        "A. Novak",
        "M. García",
        "L. Chen",
        "K. Müller",
        "S. Brown",
        "T. Okonkwo",
        "E. Rossi",
        "P. Nowak",
        "H. Johansson",
        "R. Dubois",
        "D. O'Brien",
    ],
    "dept": ["Sales", "Finance", "HR", "Customer Service", "Purchasing", "Operations"],
    "software": [
        "Adobe Acrobat Pro",
        "Power BI Desktop",
        "Zoom",
        "7-Zip",
        "Notepad++",
        "Tableau Reader",
        "draw.io",
    ],
    "share": ["Finance", "Projects", "Sales", "Quality", "Management"],
    "group": ["sales-team", "finance-all", "warehouse-shift-b", "management", "quality"],
    "mailbox": ["orders@", "accounts@", "info@", "support@", "bookings@"],
    "saas": ["the expenses app", "the travel booking site", "the learning portal"],
    "report": ["the monthly sales report", "the budget workbook", "the stock forecast"],
}

# --- journal text ---------------------------------------------------------------------
ACKNOWLEDGEMENTS = [
    "Thanks for letting us know. I've picked this up and will get back to you within the hour.",
    "Hello, I'm looking into this now and will update this record as soon as I know more.",
    "Thanks for the details. We're on it; no need to call the desk again.",
    "Thanks, received. I'll call you shortly so we can have a look together.",
]

# (question from the desk, answer from the caller)
QUESTIONS = [
    (
        "Could you send us a screenshot of the error message and tell us when it first happened?",
        "The message says 'Something went wrong [1001]'. It first happened on Monday morning.",
    ),
    (
        "Could you tell us the asset tag (the sticker under the laptop) and when you are "
        "at your desk, so we can connect remotely?",
        "It's NB-2291. I'm at my desk all afternoon, connect any time after 13:00.",
    ),
    (
        "Do colleagues near you have the same problem, and does it happen in the office, "
        "at home or both?",
        "Two colleagues on my floor have it too. At home it works fine.",
    ),
    (
        "Could you try once more after restarting, and let us know if the problem is still there?",
        "Restarted twice, same problem, sorry.",
    ),
]
REQUEST_QUESTIONS = [
    (
        "We need your manager's approval for this. Could you ask them to reply here or "
        "forward their OK to the service desk?",
        "My manager has approved it, she forwarded her e-mail to the service desk just now.",
    ),
    (
        "Which cost centre should this be charged to?",
        "Please charge it to cost centre 4100 (Operations).",
    ),
    (
        "Could you confirm the start date and the office the person will work from?",
        "Confirmed: first day as planned, working from the head office.",
    ),
]

WORK_NOTES = [
    "Remote session with the caller: reproduced the problem.",
    "Checked monitoring: no related alerts for this site or service.",
    "Searched the known errors: nothing matching yet. Collecting logs.",
    "A colleague of the caller had the same last month; trying the fix from that record first.",
    "Asked the caller to restart after the latest updates; no change.",
    "Checked with the team: no changes deployed in this area this week.",
]
REQUEST_WORK_NOTES = [
    "Approval received from the line manager.",
    "Checked stock: item available, no order needed.",
    "Standard request; following the checklist in the knowledge base.",
    "Planned for tomorrow morning.",
]

SUPPLIER_NOTES = [
    "Logged case {case} with the vendor's support and sent them the logs.",
    "Opened a call with the hardware supplier (reference {case}); engineer to be scheduled.",
]
SUPPLIER_DONE = "Vendor came back on case {case} with the fix; applying it now."
CHANGE_NOTES = [
    "The fix needs a configuration change; it is planned for the maintenance window on "
    "{weekday} evening.",
    "Needs a firewall rule change, raised for approval at the next change board on {weekday}.",
]
CHANGE_DONE = "The change was implemented in last night's maintenance window."

THANKS = [
    "Thanks, it works again!",
    "Confirmed, all good now. Thank you for the quick help.",
    "Thanks, that did the trick.",
    "Great, thank you very much.",
]
CHASERS = [
    "Any news on this? It is still happening.",
    "Just checking you got this: it is getting urgent for us.",
]
REOPEN_NOTES = [
    "Sorry, it is happening again since this morning.",
    "The problem came back after the restart last night.",
]
CANCEL_INCIDENT = [
    "Logged twice by mistake; the other record for the same problem is being worked on.",
    "The caller says it works again after a restart and asked us to cancel.",
    "Raised in error: it was the planned maintenance announced last week.",
]
CANCEL_REQUEST = [
    "Withdrawn by the caller: no longer needed.",
    "The start date moved; the caller will raise a new request nearer the time.",
    "Duplicate of a request the caller's manager had already raised.",
]
USER_ERROR = (
    "Showed the caller how to do it; it works as designed. Also sent the how-to guide "
    "from the knowledge base."
)
NOT_REPRODUCIBLE = (
    "Could not reproduce the problem together with the caller and it has not happened "
    "again since. Please reopen if it comes back."
)
DUPLICATE = "Duplicate of another record for the same problem, which has the updates."
REJECTED = [
    "Not approved by the budget holder; please raise it again with your manager's "
    "approval if it is still needed.",
    "This is not part of the current service agreement; your account manager can arrange a quote.",
]

# --- the two major incidents -------------------------------------------------------
# Communications: (channel, audience, subject, message).
EMAIL_OUTAGE = {
    "short": "Email down: no mail sent or received at Northwind since 08:10",
    "description": "Nobody at Northwind can send or receive e-mail since about 08:10. "
    "Outlook shows messages stuck in the Outbox and customers say their orders bounce.",
    "reason": "All Northwind Traders staff (about 180 people) cannot send or receive "
    "e-mail; customer orders by e-mail have stopped.",
    "notes": [
        "The mail gateway rejects outbound delivery with 'TLS negotiation failed'; about "
        "1,200 messages queued and growing.",
        "Found it: the TLS certificate of the gateway's outbound connector expired at "
        "08:04. The renewal reminders went to a shared mailbox nobody reads any more.",
    ],
    "reply": "We know e-mail is down for everyone at Northwind and are handling it as a "
    "major incident. We will update you here at least every 30 minutes.",
    "updates": [
        "Major incident declared. Since 08:10 no mail leaves or reaches Northwind "
        "mailboxes: the mail gateway rejects its outbound connections. Workplace Services "
        "is investigating; bridge call open.",
        "Cause found: the TLS certificate of the mail gateway's outbound connector "
        "expired at 08:04. A new certificate is being issued.",
        "New certificate installed at 09:40 and mail flow restarted; the queued messages "
        "(about 1,900) are being delivered.",
        "All queues empty since 10:25 and no new errors. Monitoring for an hour before resolving.",
    ],
    "communications": [
        (
            "phone",
            "Margaret Peacock (managing director), Steven Buchanan (operations manager)",
            "E-mail outage: we are on it",
            "Called to say that e-mail is down for all staff since 08:10, that we are "
            "treating it as a major incident, and that updates follow on the status page "
            "every 30 minutes.",
        ),
        (
            "portal",
            "Northwind Traders staff (status page)",
            "E-mail working again; delayed messages arriving",
            "E-mail works again since 09:40. Messages sent this morning are being "
            "delivered now and should all arrive within the hour; there is no need to "
            "send them again.",
        ),
        (
            "email",
            "All Northwind Traders staff",
            "Resolved: e-mail outage this morning",
            "This morning's e-mail outage (08:10-09:40) is resolved and all delayed "
            "messages have been delivered. It was caused by an expired security "
            "certificate on our mail gateway. We are sorry for the disruption; the "
            "review and its actions will be presented at the next service review.",
        ),
    ],
    "resolution": "Renewed the expired TLS certificate on the outbound connector of the "
    "mail gateway and restarted mail flow at 09:40; all queued mail was delivered by "
    "10:25.",
    "review": {
        "summary": "From 08:10 to 09:40 nobody at Northwind Traders could send or receive "
        "e-mail; about 1,900 messages were delayed by up to two hours. No mail was lost.",
        "root_cause": "The TLS certificate of the mail gateway's outbound connector "
        "expired. It was missing from the certificate inventory, and the supplier's "
        "expiry reminders went to a shared mailbox nobody monitored after a "
        "reorganisation.",
        "went_well": "Users reported the outage within minutes, the major incident was "
        "declared 20 minutes in, and the customer's management was called before the "
        "first status page update.",
        "went_badly": "Monitoring checked that the gateway was up, not that mail was "
        "flowing, so the first alert came from users. Finding the cause took 40 minutes "
        "because the gateway's logs are not in the central log search.",
        "actions": "1. Put every certificate of the mail platform in the certificate "
        "inventory with 30-day expiry alerts (Workplace Services, this month).\n"
        "2. Add an end-to-end mail flow probe to monitoring (Network & Infrastructure).\n"
        "3. Send the gateway's logs to the central log search.\n"
        "4. Point all supplier notices at the monitored team mailbox.",
    },
    # Calls from other users about the same outage, linked to the major incident:
    # (username, minutes after it was logged, short description, description).
    "calls": [
        (
            "andrew.fuller",
            7,
            "Can't send email, everything stuck in the Outbox",
            "None of my e-mails go out, they all sit in the Outbox. I have quotes to send "
            "this morning.",
        ),
        (
            "janet.leverling",
            13,
            "Not receiving any emails since 8am",
            "I haven't received a single e-mail since eight o'clock, and suppliers say "
            "their mails to us bounce.",
        ),
        (
            "robert.king",
            21,
            "Customers say their order emails bounce",
            "Two customers phoned the warehouse to say their orders by e-mail came back "
            "undelivered.",
        ),
    ],
    "call_reply": "Thanks for reporting this. It is part of the e-mail outage we are "
    "handling as major incident {major}; we will update you here as soon as it is fixed.",
    "call_resolution": "Caused by the e-mail outage handled as major incident {major}; "
    "mail flow was restored at 09:40 and the delayed messages delivered by 10:25.",
    "call_thanks": "All my mails have gone out now, thanks.",
}

VPN_OUTAGE = {
    "short": "VPN down: remote staff cannot connect",
    "description": "For the last twenty minutes nobody working remotely can connect to "
    "the VPN: sign-in fails with 'authentication failed'. Our on-call doctors cannot "
    "reach patient records from home.",
    "reason": "No remote clinician or home worker at Contoso Health (about 120 people) "
    "can connect; on-call doctors cannot reach patient records from home.",
    "notes": [
        "Primary RADIUS node: the NPS service stopped after a certificate error in the "
        "event log. The secondary node is healthy but missing from the gateway's server "
        "list.",
        "Vendor case {case} opened for the certificate error on the primary node.",
    ],
    "reply": "Most people can connect to the VPN again. If you still cannot, please "
    "disconnect and try once more. We keep this open until the primary server is fixed.",
    "updates": [
        "Major incident declared. VPN sign-ins fail for all users: the VPN gateway gets "
        "no answer from the primary RADIUS server. Network & Infrastructure is "
        "investigating.",
        "Added the secondary RADIUS server to the VPN gateway; new sign-ins work again "
        "for most users. Still working on the primary server.",
    ],
    "communications": [
        (
            "portal",
            "Contoso Health staff (status page)",
            "VPN disruption: remote access unavailable",
            "Remote access through the VPN is unavailable for everyone. We are working on "
            "it as our top priority and will post an update within the hour. Staff on "
            "site are not affected.",
        ),
    ],
    "calls": [
        (
            "ravi.shah",
            9,
            "Cannot connect to the VPN from home",
            "The VPN keeps saying 'authentication failed'. I need the radiology worklist "
            "for tonight's on-call.",
        ),
    ],
    "call_reply": "Thanks for reporting this. It is part of a VPN outage we are handling "
    "as major incident {major}; we will update you here as soon as it is fixed.",
}


# --- the CMDB -------------------------------------------------------------------------
# (name, type key, customer codes (none: the provider's own), services, status,
#  attributes, location, owner team, criticality 1-4)
DATACENTRE = "DC1 (provider datacentre)"
CMDB_ITEMS = [
    (
        DATACENTRE,
        "location",
        (),
        (),
        "live",
        {"address": "Unit 4, Science Park", "site_code": "DC1"},
        None,
        "Network & Infrastructure",
        1,
    ),
    (
        "Northwind head office",
        "location",
        ("northwind",),
        (),
        "live",
        {"site_code": "NW-HO"},
        None,
        "Network & Infrastructure",
        3,
    ),
    (
        "Contoso day hospital",
        "location",
        ("contoso",),
        (),
        "live",
        {"site_code": "CH-DH"},
        None,
        "Network & Infrastructure",
        3,
    ),
    (
        "Fabrikam Rotterdam depot",
        "location",
        ("fabrikam",),
        (),
        "live",
        {"site_code": "FL-RTM"},
        None,
        "Network & Infrastructure",
        3,
    ),
    (
        "dc1-core-sw01",
        "network-device",
        (),
        (NETWORK,),
        "live",
        {"role": "switch", "ip_address": "10.0.0.2", "model": "Catalyst 9500"},
        DATACENTRE,
        "Network & Infrastructure",
        1,
    ),
    (
        "dc1-fw01",
        "network-device",
        (),
        (NETWORK, VPN),
        "live",
        {"role": "firewall", "ip_address": "10.0.0.1", "model": "FortiGate 600F"},
        DATACENTRE,
        "Network & Infrastructure",
        1,
    ),
    (
        "dc1-san01",
        "storage",
        (),
        (BACKUP,),
        "live",
        {"capacity_tb": 120, "protocol": "iSCSI", "model": "PowerStore 1200T"},
        DATACENTRE,
        "Network & Infrastructure",
        1,
    ),
    (
        "dc1-backup01",
        "storage",
        (),
        (BACKUP,),
        "live",
        {"capacity_tb": 300, "protocol": "S3"},
        DATACENTRE,
        "Network & Infrastructure",
        2,
    ),
    (
        "esx-01",
        "server",
        (),
        (),
        "live",
        {
            "hostname": "esx-01.dc1",
            "ip_address": "10.0.1.11",
            "cpu_cores": 64,
            "memory_gb": 768,
            "operating_system": "VMware ESXi 8",
            "environment": "production",
        },
        DATACENTRE,
        "Network & Infrastructure",
        1,
    ),
    (
        "esx-02",
        "server",
        (),
        (),
        "live",
        {
            "hostname": "esx-02.dc1",
            "ip_address": "10.0.1.12",
            "cpu_cores": 64,
            "memory_gb": 768,
            "operating_system": "VMware ESXi 8",
            "environment": "production",
        },
        DATACENTRE,
        "Network & Infrastructure",
        1,
    ),
    (
        "esx-03",
        "server",
        (),
        (),
        "maintenance",
        {
            "hostname": "esx-03.dc1",
            "ip_address": "10.0.1.13",
            "cpu_cores": 32,
            "memory_gb": 384,
            "operating_system": "VMware ESXi 7",
            "environment": "production",
        },
        DATACENTRE,
        "Network & Infrastructure",
        2,
    ),
    (
        "idp-vm01",
        "virtual-machine",
        (),
        (IDENTITY,),
        "live",
        {
            "hostname": "idp01",
            "ip_address": "10.0.2.21",
            "cpu_cores": 4,
            "memory_gb": 16,
            "operating_system": "Ubuntu 24.04",
            "environment": "production",
        },
        DATACENTRE,
        "Applications",
        1,
    ),
    (
        "Single sign-on (Keycloak)",
        "application",
        (),
        (IDENTITY,),
        "live",
        {"version": "26.0", "vendor": "Keycloak", "environment": "production"},
        None,
        "Applications",
        1,
    ),
    (
        "vpn-gw01",
        "network-device",
        (),
        (VPN,),
        "live",
        {"role": "router", "ip_address": "10.0.0.5", "model": "FortiGate 200F"},
        DATACENTRE,
        "Network & Infrastructure",
        2,
    ),
    (
        "Mail gateway",
        "application",
        (),
        (EMAIL,),
        "live",
        {"vendor": "Proofpoint", "environment": "production"},
        None,
        "Workplace Services",
        2,
    ),
    (
        "erp-vm01",
        "virtual-machine",
        ("northwind",),
        (ERP,),
        "live",
        {
            "hostname": "nw-erp01",
            "ip_address": "10.10.2.31",
            "cpu_cores": 8,
            "memory_gb": 64,
            "operating_system": "Windows Server 2022",
            "environment": "production",
        },
        DATACENTRE,
        "Applications",
        1,
    ),
    (
        "erp-db01",
        "database",
        ("northwind",),
        (ERP,),
        "live",
        {"engine": "SQL Server", "version": "2022", "size_gb": 420, "environment": "production"},
        DATACENTRE,
        "Applications",
        1,
    ),
    (
        "Northwind ERP (Dynamics NAV)",
        "application",
        ("northwind",),
        (ERP,),
        "live",
        {"version": "2018 CU40", "vendor": "Microsoft", "environment": "production"},
        None,
        "Applications",
        1,
    ),
    (
        "portal-vm01",
        "virtual-machine",
        ("northwind",),
        (PORTAL,),
        "live",
        {
            "hostname": "nw-portal01",
            "ip_address": "10.10.2.41",
            "cpu_cores": 4,
            "memory_gb": 16,
            "operating_system": "Ubuntu 24.04",
            "environment": "production",
        },
        DATACENTRE,
        "Applications",
        2,
    ),
    (
        "Northwind customer portal",
        "application",
        ("northwind",),
        (PORTAL,),
        "live",
        {
            "version": "3.8",
            "url": "https://order.northwind.example.org",
            "environment": "production",
        },
        None,
        "Applications",
        2,
    ),
    (
        "payroll-vm01",
        "virtual-machine",
        ("northwind", "contoso"),
        (PAYROLL,),
        "live",
        {
            "hostname": "payroll01",
            "ip_address": "10.0.2.51",
            "cpu_cores": 4,
            "memory_gb": 32,
            "operating_system": "Windows Server 2022",
            "environment": "production",
        },
        DATACENTRE,
        "Applications",
        2,
    ),
    (
        "payroll-db01",
        "database",
        ("northwind", "contoso"),
        (PAYROLL,),
        "live",
        {"engine": "PostgreSQL", "version": "16", "size_gb": 85, "environment": "production"},
        DATACENTRE,
        "Applications",
        2,
    ),
    (
        "Payroll (multi-tenant)",
        "application",
        ("northwind", "contoso"),
        (PAYROLL,),
        "live",
        {"version": "12.4", "vendor": "Loket", "environment": "production"},
        None,
        "Applications",
        2,
    ),
    (
        "hr-vm01",
        "virtual-machine",
        ("contoso",),
        (HR,),
        "live",
        {
            "hostname": "ch-hr01",
            "ip_address": "10.20.2.61",
            "cpu_cores": 4,
            "memory_gb": 16,
            "operating_system": "Ubuntu 22.04",
            "environment": "production",
        },
        DATACENTRE,
        "Applications",
        3,
    ),
    (
        "Contoso HR system",
        "application",
        ("contoso",),
        (HR,),
        "live",
        {"version": "8.1", "environment": "production"},
        None,
        "Applications",
        3,
    ),
    (
        "ch-dh-sw01",
        "network-device",
        ("contoso",),
        (NETWORK,),
        "live",
        {"role": "switch", "ip_address": "10.20.0.2", "model": "Aruba 6300M"},
        "Contoso day hospital",
        "Network & Infrastructure",
        2,
    ),
    (
        "nw-ho-sw01",
        "network-device",
        ("northwind",),
        (NETWORK,),
        "live",
        {"role": "switch", "ip_address": "10.10.0.2", "model": "Aruba 6200F"},
        "Northwind head office",
        "Network & Infrastructure",
        2,
    ),
    (
        "fl-rtm-sw01",
        "network-device",
        ("fabrikam",),
        (NETWORK,),
        "live",
        {"role": "switch", "ip_address": "10.30.0.2", "model": "Aruba 6200F"},
        "Fabrikam Rotterdam depot",
        "Network & Infrastructure",
        2,
    ),
    (
        "pbx-01",
        "server",
        ("fabrikam",),
        (TELEPHONY,),
        "live",
        {
            "hostname": "fl-pbx01",
            "operating_system": "Mitel MiVoice 9",
            "environment": "production",
        },
        "Fabrikam Rotterdam depot",
        "Network & Infrastructure",
        3,
    ),
    (
        "Service continuity plan",
        "document",
        (),
        (BACKUP,),
        "live",
        {"document_type": "policy", "review_date": "2027-03-31"},
        None,
        "Network & Infrastructure",
        3,
    ),
    (
        "old-file-srv01",
        "server",
        ("northwind",),
        (),
        "retired",
        {
            "hostname": "nw-fs01",
            "operating_system": "Windows Server 2012 R2",
            "environment": "production",
        },
        "Northwind head office",
        "Workplace Services",
        4,
    ),
]
# (source, relationship type key, target)
CMDB_LINKS = [
    ("esx-01", "depends-on", "dc1-san01"),
    ("esx-02", "depends-on", "dc1-san01"),
    ("esx-03", "depends-on", "dc1-san01"),
    ("esx-01", "connects-to", "dc1-core-sw01"),
    ("esx-02", "connects-to", "dc1-core-sw01"),
    ("esx-03", "connects-to", "dc1-core-sw01"),
    ("dc1-core-sw01", "connects-to", "dc1-fw01"),
    ("vpn-gw01", "depends-on", "dc1-fw01"),
    ("dc1-san01", "backed-up-by", "dc1-backup01"),
    ("idp-vm01", "runs-on", "esx-01"),
    ("Single sign-on (Keycloak)", "runs-on", "idp-vm01"),
    ("Mail gateway", "depends-on", "dc1-fw01"),
    ("erp-vm01", "runs-on", "esx-01"),
    ("erp-db01", "runs-on", "erp-vm01"),
    ("Northwind ERP (Dynamics NAV)", "runs-on", "erp-vm01"),
    ("Northwind ERP (Dynamics NAV)", "depends-on", "erp-db01"),
    ("Northwind ERP (Dynamics NAV)", "depends-on", "Single sign-on (Keycloak)"),
    ("portal-vm01", "runs-on", "esx-02"),
    ("Northwind customer portal", "runs-on", "portal-vm01"),
    ("Northwind customer portal", "depends-on", "Northwind ERP (Dynamics NAV)"),
    ("payroll-vm01", "runs-on", "esx-02"),
    ("payroll-db01", "runs-on", "payroll-vm01"),
    ("Payroll (multi-tenant)", "runs-on", "payroll-vm01"),
    ("Payroll (multi-tenant)", "depends-on", "payroll-db01"),
    ("Payroll (multi-tenant)", "depends-on", "Single sign-on (Keycloak)"),
    ("hr-vm01", "runs-on", "esx-03"),
    ("Contoso HR system", "runs-on", "hr-vm01"),
    ("Contoso HR system", "depends-on", "Payroll (multi-tenant)"),
    ("ch-dh-sw01", "connects-to", "vpn-gw01"),
    ("nw-ho-sw01", "connects-to", "vpn-gw01"),
    ("fl-rtm-sw01", "connects-to", "vpn-gw01"),
]


# --- problems and known errors ------------------------------------------------------------
@dataclass(frozen=True)
class ProblemSpec:
    short: str
    matches: str  # incidents whose short description contains this are its incidents
    owner: str
    team: str
    impact: int
    urgency: int
    ends: str  # the last step: investigate, root_cause, known_error, resolve, close, accept_risk
    days_ago: int  # when it was raised
    description: str = ""
    symptoms: str = ""
    method: str = ""
    root_cause: str = ""
    workaround: str = ""
    fix_change: str = ""
    fix: str = ""
    risk: tuple = ()  # (approver, reason)
    major: bool = False
    cis: tuple = ()
    whys: tuple = ()  # (question, answer) steps of the analysis
    factors: tuple = ()  # (kind, description)
    timeline: tuple = ()  # (days after raising, what happened)
    review: dict = field(default_factory=dict)  # summary, went_well, went_badly, complete
    actions: tuple = ()  # (description, owner, days after raising, done note or "")
    applied: int = 0  # how many of its incidents had the workaround applied


PROBLEMS = [
    ProblemSpec(
        short="VPN sessions drop every 10 minutes for remote staff",
        matches="VPN disconnects every 10 minutes",
        owner="carlos.mendes",
        team="Network & Infrastructure",
        impact=2,
        urgency=2,
        ends="known_error",
        days_ago=70,
        description="Remote staff of several customers lose their VPN session about every "
        "ten minutes and must reconnect.",
        symptoms="The client shows 'Reconnecting…' roughly every 10 minutes; sessions over "
        "UDP are affected, sessions over TCP 443 are not.",
        method="five_whys",
        root_cause="The firewall's SSL VPN profile drops UDP sessions idle for 600 s, and the "
        "client's keep-alive interval defaults to 900 s.",
        workaround="1. Open the VPN client and choose **Settings → Connection**.\n"
        "2. Set *Transport* to `TCP 443`.\n"
        "3. Reconnect. The session now stays up.\n",
        cis=("vpn-gw01", "dc1-fw01"),
        whys=(
            ("Why do sessions drop?", "The gateway closes them as idle."),
            ("Why are they idle?", "No keep-alive packet reaches the gateway for 10 minutes."),
            ("Why no keep-alive?", "The client sends one every 15 minutes by default."),
            (
                "Why does that matter now?",
                "The firewall update of last month cut the UDP idle timeout to 600 s.",
            ),
        ),
        factors=(
            ("technology", "Client keep-alive default longer than the firewall timeout"),
            ("process", "Firewall update not tested with long-lived VPN sessions"),
        ),
        timeline=(
            (-9, "Firewall firmware update on dc1-fw01"),
            (0, "Third incident in a day; problem raised"),
            (2, "Reproduced in the lab with the default client profile"),
            (5, "Workaround confirmed with two users"),
        ),
        applied=3,
    ),
    ProblemSpec(
        short="Nightly backup of the file server fails",
        matches="nightly backup of the file server failed",
        owner="hannah.schulz",
        team="Network & Infrastructure",
        impact=2,
        urgency=1,
        ends="close",
        days_ago=95,
        symptoms="The backup job ends with 'snapshot timeout' two or three nights a week.",
        method="timeline",
        root_cause="The storage snapshot of the file server's volume runs into the nightly "
        "virus scan and times out after 10 minutes.",
        workaround="Re-run the failed job by hand in the morning (Backup console → Jobs → Retry).",
        fix_change="CHG-2026-0142",
        fix="Virus scan moved to 04:00 and the snapshot timeout raised to 30 minutes.",
        cis=("dc1-backup01", "dc1-san01"),
        timeline=((0, "Problem raised from monitoring"), (6, "Overlap with the scan found")),
        factors=(("process", "Schedules of two teams' jobs never compared"),),
    ),
    ProblemSpec(
        short="Excel crashes opening large finance reports",
        matches="Excel crashes when opening",
        owner="lukas.wagner",
        team="Workplace Services",
        impact=3,
        urgency=2,
        ends="known_error",
        days_ago=40,
        symptoms="Excel closes without a message when a report over 40 MB is opened from the "
        "shared drive.",
        method="change_analysis",
        root_cause="A COM add-in for the ERP export loads every linked sheet on open and runs "
        "out of memory in 32-bit Office.",
        workaround="1. Start Excel with the add-in off: `excel.exe /safe`.\n"
        "2. Open the report, then enable the add-in only if you need the ERP export.\n",
        applied=2,
    ),
    ProblemSpec(
        short="Printer on the 3rd floor jams on every long job",
        matches="jams on every job",
        owner="priya.nair",
        team="Workplace Services",
        impact=3,
        urgency=3,
        ends="accept_risk",
        days_ago=50,
        method="other",
        root_cause="Worn fuser unit; the model is out of support and no parts are sold.",
        risk=(
            "emma.laurent",
            "The printer is replaced with the fleet renewal next quarter; until then long "
            "jobs go to the 2nd-floor printer.",
        ),
    ),
    ProblemSpec(
        short="ERP slow when posting invoices at month end",
        matches="ERP very slow when posting invoices",
        owner="hannah.schulz",
        team="Applications",
        impact=1,
        urgency=2,
        ends="resolve",
        days_ago=60,
        major=True,
        symptoms="Posting an invoice takes 30–90 s in the last three working days of the month.",
        method="kepner_tregoe",
        root_cause="A missing index on the ledger entries table makes the month-end "
        "reconciliation job scan the whole table while users post.",
        fix_change="CHG-2026-0188",
        fix="Index added on ledger entries (posting date, account); job moved to 22:00.",
        cis=("erp-db01",),
        review={
            "summary": "Month-end posting was slow for two closes in a row for Northwind.",
            "went_well": "Database monitoring pointed at the table within a day.",
            "went_badly": "It took two month-ends before a problem was raised.",
            "complete": False,
        },
        actions=(
            ("Alert when posting takes over 10 s", "hannah.schulz", 20, "Alert in monitoring"),
            ("Raise a problem after the 2nd similar incident", "manager", 40, ""),
        ),
    ),
    ProblemSpec(
        short="Port errors on the core switch",
        matches="port errors on the core switch",
        owner="carlos.mendes",
        team="Network & Infrastructure",
        impact=2,
        urgency=3,
        ends="investigate",
        days_ago=45,
        symptoms="CRC errors climb on uplink ports of dc1-core-sw01 during backups.",
        cis=("dc1-core-sw01",),
        timeline=((0, "Seen in monitoring"),),
    ),
]
