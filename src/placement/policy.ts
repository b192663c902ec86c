// Placement's default policies (Placement 8, Zed): every rule of placement/policies with the same
// names, check strings, scope types and deprecated rules, so an operator's Placement policy.yaml works
// unchanged. With Zed's defaults (enforce_new_defaults=False) each rule is "new OR deprecated", and the
// deprecated base rules are `role:admin`: any admin token (project- or system-scoped) passes, others
// are refused, except GET /usages, which a project reader may call for its own project.
// Target (placement.context.can): {project_id, user_id} of the caller unless the handler gives one.
// Generated from placement.policies.list_rules() and kept as data.

import type { RuleDefault } from '../common/policy/enforcer.js';

export const placementPolicies: RuleDefault[] = [
  {"name": "admin_api", "checkStr": "role:admin", "scopeTypes": ["system"], "description": "Default rule for most placement APIs."},
  {"name": "system_admin_api", "checkStr": "role:admin and system_scope:all", "deprecatedRule": {"name": "rule:admin_api", "checkStr": "role:admin"}, "description": "Default rule for System Admin APIs."},
  {"name": "system_reader_api", "checkStr": "role:reader and system_scope:all", "deprecatedRule": {"name": "rule:admin_api", "checkStr": "role:admin"}, "description": "Default rule for System level read only APIs."},
  {"name": "project_reader_api", "checkStr": "role:reader and project_id:%(project_id)s", "deprecatedRule": {"name": "rule:admin_api", "checkStr": "role:admin"}, "description": "Default rule for Project level read only APIs."},
  {"name": "system_or_project_reader", "checkStr": "rule:system_reader_api or rule:project_reader_api", "deprecatedRule": {"name": "rule:admin_api", "checkStr": "role:admin"}, "description": "Default rule for System+Project read only APIs."},
  {"name": "placement:resource_providers:list", "checkStr": "rule:system_reader_api", "scopeTypes": ["system"], "description": "List resource providers."},
  {"name": "placement:resource_providers:create", "checkStr": "rule:system_admin_api", "scopeTypes": ["system"], "description": "Create resource provider."},
  {"name": "placement:resource_providers:show", "checkStr": "rule:system_reader_api", "scopeTypes": ["system"], "description": "Show resource provider."},
  {"name": "placement:resource_providers:update", "checkStr": "rule:system_admin_api", "scopeTypes": ["system"], "description": "Update resource provider."},
  {"name": "placement:resource_providers:delete", "checkStr": "rule:system_admin_api", "scopeTypes": ["system"], "description": "Delete resource provider."},
  {"name": "placement:resource_classes:list", "checkStr": "rule:system_reader_api", "scopeTypes": ["system"], "description": "List resource classes."},
  {"name": "placement:resource_classes:create", "checkStr": "rule:system_admin_api", "scopeTypes": ["system"], "description": "Create resource class."},
  {"name": "placement:resource_classes:show", "checkStr": "rule:system_reader_api", "scopeTypes": ["system"], "description": "Show resource class."},
  {"name": "placement:resource_classes:update", "checkStr": "rule:system_admin_api", "scopeTypes": ["system"], "description": "Update resource class."},
  {"name": "placement:resource_classes:delete", "checkStr": "rule:system_admin_api", "scopeTypes": ["system"], "description": "Delete resource class."},
  {"name": "placement:resource_providers:inventories:list", "checkStr": "rule:system_reader_api", "scopeTypes": ["system"], "description": "List resource provider inventories."},
  {"name": "placement:resource_providers:inventories:create", "checkStr": "rule:system_admin_api", "scopeTypes": ["system"], "description": "Create one resource provider inventory."},
  {"name": "placement:resource_providers:inventories:show", "checkStr": "rule:system_reader_api", "scopeTypes": ["system"], "description": "Show resource provider inventory."},
  {"name": "placement:resource_providers:inventories:update", "checkStr": "rule:system_admin_api", "scopeTypes": ["system"], "description": "Update resource provider inventory."},
  {"name": "placement:resource_providers:inventories:delete", "checkStr": "rule:system_admin_api", "scopeTypes": ["system"], "description": "Delete resource provider inventory."},
  {"name": "placement:resource_providers:aggregates:list", "checkStr": "rule:system_reader_api", "scopeTypes": ["system"], "description": "List resource provider aggregates."},
  {"name": "placement:resource_providers:aggregates:update", "checkStr": "rule:system_admin_api", "scopeTypes": ["system"], "description": "Update resource provider aggregates."},
  {"name": "placement:resource_providers:usages", "checkStr": "rule:system_reader_api", "scopeTypes": ["system"], "description": "List resource provider usages."},
  {"name": "placement:usages", "checkStr": "rule:system_or_project_reader", "scopeTypes": ["system", "project"], "description": "List total resource usages for a given project."},
  {"name": "placement:traits:list", "checkStr": "rule:system_reader_api", "scopeTypes": ["system"], "description": "List traits."},
  {"name": "placement:traits:show", "checkStr": "rule:system_reader_api", "scopeTypes": ["system"], "description": "Show trait."},
  {"name": "placement:traits:update", "checkStr": "rule:system_admin_api", "scopeTypes": ["system"], "description": "Update trait."},
  {"name": "placement:traits:delete", "checkStr": "rule:system_admin_api", "scopeTypes": ["system"], "description": "Delete trait."},
  {"name": "placement:resource_providers:traits:list", "checkStr": "rule:system_reader_api", "scopeTypes": ["system"], "description": "List resource provider traits."},
  {"name": "placement:resource_providers:traits:update", "checkStr": "rule:system_admin_api", "scopeTypes": ["system"], "description": "Update resource provider traits."},
  {"name": "placement:resource_providers:traits:delete", "checkStr": "rule:system_admin_api", "scopeTypes": ["system"], "description": "Delete resource provider traits."},
  {"name": "placement:allocations:manage", "checkStr": "rule:system_admin_api", "scopeTypes": ["system"], "description": "Manage allocations."},
  {"name": "placement:allocations:list", "checkStr": "rule:system_reader_api", "scopeTypes": ["system"], "description": "List allocations."},
  {"name": "placement:allocations:update", "checkStr": "rule:system_admin_api", "scopeTypes": ["system"], "description": "Update allocations."},
  {"name": "placement:allocations:delete", "checkStr": "rule:system_admin_api", "scopeTypes": ["system"], "description": "Delete allocations."},
  {"name": "placement:resource_providers:allocations:list", "checkStr": "rule:system_reader_api", "scopeTypes": ["system"], "description": "List resource provider allocations."},
  {"name": "placement:allocation_candidates:list", "checkStr": "rule:system_reader_api", "scopeTypes": ["system"], "description": "List allocation candidates."},
  {"name": "placement:reshaper:reshape", "checkStr": "rule:system_admin_api", "scopeTypes": ["system"], "description": "Reshape Inventory and Allocations."},
];
