// Glance's default policies (Glance 25, Zed): every rule of glance/policies, with the same names,
// check strings, scope types and deprecated rules, so an operator's Glance policy.yaml works here
// unchanged. With Zed's defaults (enforce_new_defaults=False, enforce_secure_rbac=False) each
// rule is "new rule OR deprecated rule", and the deprecated rules are `rule:default`, which is
// empty (always true): the policy layer then lets every project member through, and Glance's
// legacy ownership checks (authz.ts: owner-or-admin to change an image, owner to share it,
// member to accept it) are what protect images. With enforce_new_defaults the secure-RBAC rules
// alone decide, and the legacy checks are skipped, as in Glance.
//
// Targets (glance.api.policy.ImageTarget): every image attribute by name, its extra properties,
// and the aliases project_id -> owner, member_id -> member (the caller's project when it sees a
// shared image as a member). Metadef targets: project_id (the namespace owner) and visibility.
// Credentials: project_id, user_id, roles (lowercased), as oslo.context gives them.

import type { RuleDefault } from '../common/policy/enforcer.js';

export const imagePolicies: RuleDefault[] = [
  { name: "default", checkStr: "", deprecatedRule: { name: "default", checkStr: "role:admin" }, description: "Defines the default rule used for policies that historically had an empty policy in the supplied policy.json file." },
  { name: "context_is_admin", checkStr: "role:admin", description: "Defines the rule for the is_admin:True check." },
  { name: "add_image", checkStr: "role:admin or (role:member and project_id:%(project_id)s and project_id:%(owner)s)", scopeTypes: ["project"], deprecatedRule: { name: "add_image", checkStr: "rule:default" }, description: "Create new image" },
  { name: "delete_image", checkStr: "role:admin or (role:member and project_id:%(project_id)s)", scopeTypes: ["project"], deprecatedRule: { name: "delete_image", checkStr: "rule:default" }, description: "Deletes the image" },
  { name: "get_image", checkStr: "role:admin or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s))", scopeTypes: ["project"], deprecatedRule: { name: "get_image", checkStr: "rule:default" }, description: "Get specified image" },
  { name: "get_images", checkStr: "role:admin or (role:reader and project_id:%(project_id)s)", scopeTypes: ["project"], deprecatedRule: { name: "get_images", checkStr: "rule:default" }, description: "Get all available images" },
  { name: "modify_image", checkStr: "role:admin or (role:member and project_id:%(project_id)s)", scopeTypes: ["project"], deprecatedRule: { name: "modify_image", checkStr: "rule:default" }, description: "Updates given image" },
  { name: "publicize_image", checkStr: "role:admin", scopeTypes: ["project"], description: "Publicize given image" },
  { name: "communitize_image", checkStr: "role:admin or (role:member and project_id:%(project_id)s)", scopeTypes: ["project"], deprecatedRule: { name: "communitize_image", checkStr: "rule:default" }, description: "Communitize given image" },
  { name: "download_image", checkStr: "role:admin or (role:member and (project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s))", scopeTypes: ["project"], deprecatedRule: { name: "download_image", checkStr: "rule:default" }, description: "Downloads given image" },
  { name: "upload_image", checkStr: "role:admin or (role:member and project_id:%(project_id)s)", scopeTypes: ["project"], deprecatedRule: { name: "upload_image", checkStr: "rule:default" }, description: "Uploads data to specified image" },
  { name: "delete_image_location", checkStr: "role:admin", scopeTypes: ["project"], deprecatedRule: { name: "delete_image_location", checkStr: "rule:default" }, description: "Deletes the location of given image" },
  { name: "get_image_location", checkStr: "role:admin or (role:reader and project_id:%(project_id)s)", scopeTypes: ["project"], deprecatedRule: { name: "get_image_location", checkStr: "rule:default" }, description: "Reads the location of the image" },
  { name: "set_image_location", checkStr: "role:admin or (role:member and project_id:%(project_id)s)", scopeTypes: ["project"], deprecatedRule: { name: "set_image_location", checkStr: "rule:default" }, description: "Sets location URI to given image" },
  { name: "add_member", checkStr: "role:admin or (role:member and project_id:%(project_id)s)", scopeTypes: ["project"], deprecatedRule: { name: "add_member", checkStr: "rule:default" }, description: "Create image member" },
  { name: "delete_member", checkStr: "role:admin or (role:member and project_id:%(project_id)s)", scopeTypes: ["project"], deprecatedRule: { name: "delete_member", checkStr: "rule:default" }, description: "Delete image member" },
  { name: "get_member", checkStr: "role:admin or role:reader and (project_id:%(project_id)s or project_id:%(member_id)s)", scopeTypes: ["project"], deprecatedRule: { name: "get_member", checkStr: "rule:default" }, description: "Show image member details" },
  { name: "get_members", checkStr: "role:admin or role:reader and (project_id:%(project_id)s or project_id:%(member_id)s)", scopeTypes: ["project"], deprecatedRule: { name: "get_members", checkStr: "rule:default" }, description: "List image members" },
  { name: "modify_member", checkStr: "role:admin or (role:member and project_id:%(member_id)s)", scopeTypes: ["project"], deprecatedRule: { name: "modify_member", checkStr: "rule:default" }, description: "Update image member" },
  { name: "manage_image_cache", checkStr: "role:admin", scopeTypes: ["project"], description: "Manage image cache" },
  { name: "deactivate", checkStr: "role:admin or (role:member and project_id:%(project_id)s)", scopeTypes: ["project"], deprecatedRule: { name: "deactivate", checkStr: "rule:default" }, description: "Deactivate image" },
  { name: "reactivate", checkStr: "role:admin or (role:member and project_id:%(project_id)s)", scopeTypes: ["project"], deprecatedRule: { name: "reactivate", checkStr: "rule:default" }, description: "Reactivate image" },
  { name: "copy_image", checkStr: "role:admin", scopeTypes: ["project"], description: "Copy existing image to other stores" },
  { name: "get_task", checkStr: "rule:default", scopeTypes: ["project"], deprecatedRule: { name: "get_task", checkStr: "rule:default" }, description: "Get an image task. This granular policy controls access to tasks, both from the tasks API as well as internal locations in Glance that use tasks (like import). Practically this cannot be more restrictive than the policy that controls import or things will break, and changing it from the default is almost certainly not what you want. Access to the external tasks API should be restricted as desired by the tasks_api_access policy. This may change in the future." },
  { name: "get_tasks", checkStr: "rule:default", scopeTypes: ["project"], deprecatedRule: { name: "get_tasks", checkStr: "rule:default" }, description: "List tasks for all images. This granular policy controls access to tasks, both from the tasks API as well as internal locations in Glance that use tasks (like import). Practically this cannot be more restrictive than the policy that controls import or things will break, and changing it from the default is almost certainly not what you want. Access to the external tasks API should be restricted as desired by the tasks_api_access policy. This may change in the future." },
  { name: "add_task", checkStr: "rule:default", scopeTypes: ["project"], deprecatedRule: { name: "add_task", checkStr: "rule:default" }, description: "List tasks for all images. This granular policy controls access to tasks, both from the tasks API as well as internal locations in Glance that use tasks (like import). Practically this cannot be more restrictive than the policy that controls import or things will break, and changing it from the default is almost certainly not what you want. Access to the external tasks API should be restricted as desired by the tasks_api_access policy. This may change in the future." },
  { name: "modify_task", checkStr: "rule:default", scopeTypes: ["project"], description: "This policy is not used." },
  { name: "tasks_api_access", checkStr: "role:admin", scopeTypes: ["project"], description: "This is a generic blanket policy for protecting all task APIs. It is not granular and will not allow you to separate writable and readable task operations into different roles." },
  { name: "metadef_default", checkStr: "" },
  { name: "metadef_admin", checkStr: "role:admin" },
  { name: "get_metadef_namespace", checkStr: "role:admin or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))", scopeTypes: ["project"], deprecatedRule: { name: "get_metadef_namespace", checkStr: "rule:metadef_default" }, description: "Get a specific namespace." },
  { name: "get_metadef_namespaces", checkStr: "role:admin or (role:reader and project_id:%(project_id)s)", scopeTypes: ["project"], deprecatedRule: { name: "get_metadef_namespaces", checkStr: "rule:metadef_default" }, description: "List namespace." },
  { name: "modify_metadef_namespace", checkStr: "rule:metadef_admin", scopeTypes: ["project"], description: "Modify an existing namespace." },
  { name: "add_metadef_namespace", checkStr: "rule:metadef_admin", scopeTypes: ["project"], description: "Create a namespace." },
  { name: "delete_metadef_namespace", checkStr: "rule:metadef_admin", scopeTypes: ["project"], description: "Delete a namespace." },
  { name: "get_metadef_object", checkStr: "role:admin or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))", scopeTypes: ["project"], deprecatedRule: { name: "get_metadef_object", checkStr: "rule:metadef_default" }, description: "Get a specific object from a namespace." },
  { name: "get_metadef_objects", checkStr: "role:admin or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))", scopeTypes: ["project"], deprecatedRule: { name: "get_metadef_objects", checkStr: "rule:metadef_default" }, description: "Get objects from a namespace." },
  { name: "modify_metadef_object", checkStr: "rule:metadef_admin", scopeTypes: ["project"], description: "Update an object within a namespace." },
  { name: "add_metadef_object", checkStr: "rule:metadef_admin", scopeTypes: ["project"], description: "Create an object within a namespace." },
  { name: "delete_metadef_object", checkStr: "rule:metadef_admin", scopeTypes: ["project"], description: "Delete an object within a namespace." },
  { name: "list_metadef_resource_types", checkStr: "role:admin or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))", scopeTypes: ["project"], deprecatedRule: { name: "list_metadef_resource_types", checkStr: "rule:metadef_default" }, description: "List meta definition resource types." },
  { name: "get_metadef_resource_type", checkStr: "role:admin or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))", scopeTypes: ["project"], deprecatedRule: { name: "get_metadef_resource_type", checkStr: "rule:metadef_default" }, description: "Get meta definition resource types associations." },
  { name: "add_metadef_resource_type_association", checkStr: "rule:metadef_admin", scopeTypes: ["project"], description: "Create meta definition resource types association." },
  { name: "remove_metadef_resource_type_association", checkStr: "rule:metadef_admin", scopeTypes: ["project"], description: "Delete meta definition resource types association." },
  { name: "get_metadef_property", checkStr: "role:admin or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))", scopeTypes: ["project"], deprecatedRule: { name: "get_metadef_property", checkStr: "rule:metadef_default" }, description: "Get a specific meta definition property." },
  { name: "get_metadef_properties", checkStr: "role:admin or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))", scopeTypes: ["project"], deprecatedRule: { name: "get_metadef_properties", checkStr: "rule:metadef_default" }, description: "List meta definition properties." },
  { name: "modify_metadef_property", checkStr: "rule:metadef_admin", scopeTypes: ["project"], description: "Update meta definition property." },
  { name: "add_metadef_property", checkStr: "rule:metadef_admin", scopeTypes: ["project"], description: "Create meta definition property." },
  { name: "remove_metadef_property", checkStr: "rule:metadef_admin", scopeTypes: ["project"], description: "Delete meta definition property." },
  { name: "get_metadef_tag", checkStr: "role:admin or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))", scopeTypes: ["project"], deprecatedRule: { name: "get_metadef_tag", checkStr: "rule:metadef_default" }, description: "Get tag definition." },
  { name: "get_metadef_tags", checkStr: "role:admin or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))", scopeTypes: ["project"], deprecatedRule: { name: "get_metadef_tags", checkStr: "rule:metadef_default" }, description: "List tag definitions." },
  { name: "modify_metadef_tag", checkStr: "rule:metadef_admin", scopeTypes: ["project"], description: "Update tag definition." },
  { name: "add_metadef_tag", checkStr: "rule:metadef_admin", scopeTypes: ["project"], description: "Add tag definition." },
  { name: "add_metadef_tags", checkStr: "rule:metadef_admin", scopeTypes: ["project"], description: "Create tag definitions." },
  { name: "delete_metadef_tag", checkStr: "rule:metadef_admin", scopeTypes: ["project"], description: "Delete tag definition." },
  { name: "delete_metadef_tags", checkStr: "rule:metadef_admin", scopeTypes: ["project"], description: "Delete tag definitions." },
  { name: "cache_image", checkStr: "role:admin", scopeTypes: ["project"], deprecatedRule: { name: "cache_image", checkStr: "rule:manage_image_cache" }, description: "Queue image for caching" },
  { name: "cache_list", checkStr: "role:admin", scopeTypes: ["project"], deprecatedRule: { name: "cache_list", checkStr: "rule:manage_image_cache" }, description: "List cache status" },
  { name: "cache_delete", checkStr: "role:admin", scopeTypes: ["project"], deprecatedRule: { name: "cache_delete", checkStr: "rule:manage_image_cache" }, description: "Delete image(s) from cache and/or queue" },
  { name: "stores_info_detail", checkStr: "role:admin", scopeTypes: ["project"], description: "Expose store specific information" },
];
