#include "xml.h"

#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static void add(xmlNodePtr parent, const char *key, struct json_object *v);

static void fill(xmlNodePtr node, struct json_object *v)
{
	struct json_object *tree = ecs_json_raw_tree(v);
	char buf[64];

	/* Text written straight by a Describe (ecs_jw_take): its values, as a tree. */
	if (tree) {
		fill(node, tree);
		json_object_put(tree);
		return;
	}
	switch (json_object_get_type(v)) {
	case json_type_object:
		json_object_object_foreach(v, k, child)
		{
			add(node, k, child);
		}
		break;
	case json_type_boolean:
		xmlNodeAddContent(node, BAD_CAST(json_object_get_boolean(v) ? "true" : "false"));
		break;
	case json_type_int:
		snprintf(buf, sizeof(buf), "%lld", (long long)json_object_get_int64(v));
		xmlNodeAddContent(node, BAD_CAST buf);
		break;
	case json_type_null:
		break;
	default:
		xmlNodeAddContent(node, BAD_CAST json_object_get_string(v));
	}
}

static void add(xmlNodePtr parent, const char *key, struct json_object *v)
{
	struct json_object *tree = ecs_json_raw_tree(v);

	if (tree) {
		add(parent, key, tree);
		json_object_put(tree);
		return;
	}
	if (json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v); i++)
			fill(xmlNewChild(parent, NULL, BAD_CAST key, NULL), json_object_array_get_idx(v, i));
		return;
	}
	fill(xmlNewChild(parent, NULL, BAD_CAST key, NULL), v);
}

char *ctl_json_to_xml(const char *root, struct json_object *o)
{
	xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNodePtr r = xmlNewNode(NULL, BAD_CAST root);
	xmlChar *mem = NULL;
	int size = 0;
	char *out;

	xmlDocSetRootElement(doc, r);
	fill(r, o);
	xmlDocDumpFormatMemoryEnc(doc, &mem, &size, "UTF-8", 0);
	xmlFreeDoc(doc);
	out = mem ? strndup((const char *)mem, (size_t)size) : NULL;
	xmlFree(mem);
	return out;
}
