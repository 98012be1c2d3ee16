"""Business calendars: working hours, holidays and business-time arithmetic for SLAs."""
