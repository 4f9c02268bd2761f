"""Tenant lifecycle as plain functions (list with paging, disable/enable, delete with all
data, token listing), shared by the admin API and any other caller."""
