// TPM manufacturers by their TCG vendor ID (TCG TPM Vendor ID Registry, Family 1.2 and 2.0,
// v1.07), as EK certificates name them in the SAN tpmManufacturer attribute ("id:4E544300") and
// TPM2_GetCapability reports them (TPM_PT_MANUFACTURER).

export interface TPMVendor {
  /** Eight upper-case hex digits, e.g. "4E544300". */
  id: string;
  /** The ID as ASCII with trailing NULs and spaces removed, e.g. "NTC" (when printable). */
  code?: string;
  /** The manufacturer, when the registry (or swtpm) names it. */
  name?: string;
}

const VENDORS: Record<string, string> = {
  '414D4400': 'AMD', '414E5400': 'Ant Group', '41544D4C': 'Atmel', '4252434D': 'Broadcom', '4353434F': 'Cisco',
  '464C5953': 'Flyslice Technologies', '524F4343': 'Fuzhou Rockchip', '474F4F47': 'Google', '48504900': 'HPI',
  '48504500': 'HPE', '48495349': 'Huawei', '49424D00': 'IBM', '49465800': 'Infineon', '494E5443': 'Intel',
  '4C454E00': 'Lenovo', '4D534654': 'Microsoft', '4E534D20': 'National Semiconductor', '4E545A00': 'Nationz',
  '4E534700': 'NSING', '4E544300': 'Nuvoton Technology', '51434F4D': 'Qualcomm', '534D534E': 'Samsung',
  '53454345': 'SecEdge', '534E5300': 'Sinosun', '534D5343': 'SMSC', '53544D20': 'STMicroelectronics',
  '54584E00': 'Texas Instruments', '57454300': 'Winbond',
  // swtpm (IBM's TPM simulator lineage) writes IBM's PCI vendor ID here.
  '00001014': 'IBM (swtpm)',
};

/** The vendor named by a tpmManufacturer value ("id:XXXXXXXX") or a 32-bit TPM_PT_MANUFACTURER. */
export function tpmVendor(manufacturer: string | number): TPMVendor | undefined {
  let id: string;
  if (typeof manufacturer === 'number') {
    if (!Number.isInteger(manufacturer) || manufacturer < 0 || manufacturer > 0xffffffff) return undefined;
    id = manufacturer.toString(16).padStart(8, '0').toUpperCase();
  } else {
    const m = /^\s*id:\s*([0-9a-fA-F]{1,8})\s*$/.exec(manufacturer);
    if (!m) return undefined;
    id = m[1]!.padStart(8, '0').toUpperCase();
  }
  const ascii = Buffer.from(id, 'hex').toString('latin1').replace(/[\0 ]+$/, '');
  const code = /^[\x21-\x7e]+$/.test(ascii) ? ascii : undefined;
  const name = VENDORS[id];
  return { id, ...(code ? { code } : {}), ...(name ? { name } : {}) };
}
