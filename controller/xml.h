/* xml.h: ECS's XML answers (Format=XML) from the JSON ones: an object's fields become child
 * elements, an array under key K becomes repeated <K> elements (so {"Instances":
 * {"Instance":[…]}} gives <Instances><Instance/>…</Instances>), scalars become text. */
#ifndef CTL_XML_H
#define CTL_XML_H

#include <json-c/json.h>

/* <?xml …?><root>…</root>; caller frees. */
char *ctl_json_to_xml(const char *root, struct json_object *o);

#endif
